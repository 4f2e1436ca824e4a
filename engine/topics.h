/*
 * Creation of the alert topics the engine publishes to, on first use.
 *
 * Regional topics are named after the cities that appear in the input, so
 * they cannot all be created in advance. Before the first message to a
 * topic, the engine sends a CreateTopics request for it, which is
 * a no-op for a topic that exists. Without this, a broker that does not
 * create topics itself would reject every delivery to a new city's topic.
 *
 * Thread safety: one thread, the one that produces.
 */
#ifndef HEARTH_TOPICS_H
#define HEARTH_TOPICS_H

#include <librdkafka/rdkafka.h>

typedef struct hearth_topics hearth_topics_t;

/*
 * Creates the registry. rk (not owned) sends the requests; partitions and
 * replication apply to topics created here. With enabled 0 nothing is
 * ever created.
 */
hearth_topics_t *hearth_topics_new(rd_kafka_t *rk, int enabled,
                                   int partitions, int replication);

/*
 * Makes sure topic exists, asking the broker once per topic and process.
 * A refusal (for example no CREATE permission) is logged once; delivery
 * then fails or succeeds as the broker decides.
 */
void hearth_topics_ensure(hearth_topics_t *t, const char *topic);

void hearth_topics_free(hearth_topics_t *t);

#endif
