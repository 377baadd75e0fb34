/* opts: the one adapter from the configuration to the option structs of the
 * stages. Source, sink, deliver and MySQL read no cfg: the service, the
 * subcommands and the snapshot build their options here. The structs hold
 * pointers into the cfg, which must outlive every use of them.
 * sink_opts_from_cfg, sink_new_cfg, dlv_opts_retries, my_connect and rf_new
 * are also defined here and declared in their stage's header, so that their
 * callers compile without this header. */
#ifndef CE_OPTS_H
#define CE_OPTS_H

#include "config.h"
#include "deliver/deliver.h"
#include "sink/sink.h"
#include "snapshot/refetch.h"
#include "source/canal.h"
#include "source/kafka.h"
#include "source/mysql.h"

/* The Canal client options of [canal] (no stop flag, rollback on connect). */
void opts_canal(const cfg *c, canal_opts *co);
/* The Kafka consumer options of [kafka] (no stop flag, no stats). */
void opts_kafka(const cfg *c, kafka_opts *ko);
/* The transport of [elasticsearch]: URLs, timeout, credentials, TLS, gzip. */
void opts_sink(const cfg_es *es, sink_opts *o);
/* max_retries, retry_initial_ms, retry_max_ms of [elasticsearch] into o (the
 * other fields are left as they are). */
void opts_retries(const cfg_es *es, dlv_opts *o);
/* The connection of [mysql]. */
void opts_mysql(const cfg_mysql *m, my_opts *o);

#endif
