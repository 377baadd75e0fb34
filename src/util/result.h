/* util/result: the outcome every module reports for one operation, so that
 * callers decide by kind and never re-classify a module's own codes (the
 * model is Fluent Bit's FLB_OK / FLB_RETRY / FLB_ERROR):
 *   CE_OK         done;
 *   CE_RETRY      transient (connection, timeout, 429, 5xx, a server still
 *                 starting): the same operation may succeed later, with backoff;
 *   CE_PERMANENT  this input can never succeed as it is (a rejected document,
 *                 a malformed entry, an invalid index name): dead-letter it or
 *                 halt, and go on with the rest;
 *   CE_FATAL      the configuration or the credentials are wrong: stop the
 *                 service (exit 1) with the message;
 *   CE_STOPPED    a stop request or the shutdown deadline ended the operation
 *                 before it finished: nothing is acked for it. */
#ifndef CE_UTIL_RESULT_H
#define CE_UTIL_RESULT_H

typedef enum { CE_OK = 0, CE_RETRY = 1, CE_PERMANENT = 2, CE_FATAL = 3, CE_STOPPED = 4 } ce_result;

static inline const char *ce_result_name(ce_result r)
{
    switch (r) {
    case CE_OK: return "ok";
    case CE_RETRY: return "retry";
    case CE_PERMANENT: return "permanent";
    case CE_FATAL: return "fatal";
    case CE_STOPPED: return "stopped";
    }
    return "?";
}

#endif
