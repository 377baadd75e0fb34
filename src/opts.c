/* opts: cfg -> the stages' option structs (see opts.h). */
#include "opts.h"

#include <string.h>

void opts_canal(const cfg *c, canal_opts *co)
{
    *co = (canal_opts){
        .addresses = c->canal.address,
        .destination = c->canal.destination,
        .username = c->canal.username,
        .password = c->canal.password,
        .client_id = c->canal.client_id,
        .filter = c->canal.filter,
        .fetch_size = c->canal.batch_size,
        .fetch_timeout_ms = c->canal.fetch_timeout_ms,
        .max_frame = (size_t)c->canal.max_frame_mb << 20,
        .zookeeper = c->canal.zookeeper,
        .zookeeper_timeout_ms = c->canal.zookeeper_timeout_ms,
    };
}

void opts_kafka(const cfg *c, kafka_opts *ko)
{
    const cfg_kafka *k = &c->kafka;
    *ko = (kafka_opts){
        .brokers = k->brokers,
        .topic = k->topic,
        .group_id = k->group_id,
        .client_id = k->client_id,
        .tls = k->tls_on,
        .ca_file = k->ca_file,
        .cert_file = k->cert_file,
        .key_file = k->key_file,
        .verify = strcmp(k->verify, "false") != 0,
        .sasl_mechanism = k->sasl_mechanism,
        .username = k->username,
        .password = k->password,
        .session_timeout_ms = k->session_timeout_ms,
        .max_poll_records = k->max_poll_records,
        .poll_timeout_ms = k->poll_timeout_ms,
        .max_bytes = (size_t)c->canal.max_frame_mb << 20,
    };
}

void opts_sink(const cfg_es *es, sink_opts *o)
{
    *o = (sink_opts){
        .url = es->url,
        .timeout_ms = es->request_timeout_ms,
        .username = es->username,
        .password = es->password,
        .api_key = es->api_key,
        .ca_file = es->ca_file,
        .cert_file = es->cert_file,
        .key_file = es->key_file,
        .no_verify = strcmp(es->verify, "false") == 0,
        .gzip = strcmp(es->compression, "gzip") == 0,
    };
}

void opts_retries(const cfg_es *es, dlv_opts *o)
{
    o->max_retries = es->max_retries;
    o->retry_initial_ms = (uint64_t)es->retry_initial_ms;
    o->retry_max_ms = (uint64_t)es->retry_max_ms;
}

void opts_mysql(const cfg_mysql *m, my_opts *o)
{
    *o = (my_opts){
        .host = m->host,
        .port = m->port,
        .socket = m->socket,
        .user = m->user,
        .password = m->password,
        .ca_file = m->ca_file,
        .verify = strcmp(m->verify, "true") == 0,
        .connect_timeout_ms = m->connect_timeout_ms,
        .time_zone = m->time_zone,
    };
}

/* The names the callers use today (declared in the stages' headers). */

void sink_opts_from_cfg(sink_opts *o, const cfg_es *es) { opts_sink(es, o); }

sink *sink_new_cfg(const cfg_es *es, char *err, size_t errlen)
{
    sink_opts o;
    opts_sink(es, &o);
    return sink_open(&o, err, errlen);
}

void dlv_opts_retries(dlv_opts *o, const cfg_es *es) { opts_retries(es, o); }

my_conn *my_connect(const cfg_mysql *m, my_rc *rc, char *err, size_t errlen)
{
    my_opts o;
    opts_mysql(m, &o);
    return my_open(&o, rc, err, errlen);
}

rf_ctx *rf_new(const cfg_mysql *m, ce_stats *st)
{
    if (m == NULL)
        return rf_open(NULL, st);
    my_opts o;
    opts_mysql(m, &o);
    return rf_open(&o, st); /* copies o; its strings are m's */
}
