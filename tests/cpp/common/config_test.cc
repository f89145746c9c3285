// Kafka's configuration keys, defaults and validation.
#include <catch2/catch.hpp>

#include "engine/common/config.h"
#include "engine/common/errors.h"

using namespace ksim;

TEST_CASE("defaults are Kafka 4.0's", "[config]") {
  const Config p = Config::parse(kProducer, {});
  REQUIRE(p.get_string("acks") == "all");
  REQUIRE(p.get_bool("enable.idempotence"));
  REQUIRE(p.get_int("max.in.flight.requests.per.connection") == 5);
  REQUIRE(p.get_int("linger.ms") == 5);
  REQUIRE(p.get_int("delivery.timeout.ms") == 120000);
  REQUIRE(p.is_null("transactional.id"));
  const Config c = Config::parse(kConsumer, {{"group.id", "g"}});
  REQUIRE(c.get_string("auto.offset.reset") == "latest");
  REQUIRE(c.get_string("isolation.level") == "read_uncommitted");
  REQUIRE(c.get_int("session.timeout.ms") == 45000);
  REQUIRE(c.get_list("partition.assignment.strategy") == std::vector<std::string>{"range", "cooperative-sticky"});
  const Config b = Config::parse(kBroker, {});
  REQUIRE(b.get_int("min.insync.replicas") == 1);
  REQUIRE_FALSE(b.get_bool("unclean.leader.election.enable"));
  REQUIRE(b.get_long("replica.lag.time.max.ms") == 30000);
  REQUIRE(b.get_long("replica.high.watermark.checkpoint.interval.ms") == 5000);
  REQUIRE(b.get_string("ksim.truncation.mode") == "leader-epoch");
}

TEST_CASE("an unknown key or a key of another scope is an error naming the key", "[config]") {
  try {
    Config::parse(kProducer, {{"ackz", "1"}});
    FAIL("accepted an unknown key");
  } catch (const ConfigError& e) {
    REQUIRE(e.key() == "ackz");
    REQUIRE(std::string(e.what()).find("Unknown configuration 'ackz'") != std::string::npos);
  }
  REQUIRE_THROWS_WITH(Config::parse(kProducer, {{"group.id", "g"}}), Catch::Contains("not a producer configuration"));
  REQUIRE_THROWS_WITH(Config::parse(kBroker, {{"ksim.truncation", "x"}}), Catch::Contains("Unknown ksim configuration"));
}

TEST_CASE("values are validated with Kafka's wording", "[config]") {
  REQUIRE_THROWS_WITH(Config::parse(kProducer, {{"acks", "2"}}),
                      "Invalid value 2 for configuration acks: String must be one of: 0, 1, all, -1");
  REQUIRE_THROWS_WITH(Config::parse(kProducer, {{"linger.ms", "soon"}}), Catch::Contains("Not a number of type INT"));
  REQUIRE_THROWS_WITH(Config::parse(kBroker, {{"min.insync.replicas", "0"}}), Catch::Contains("Value must be at least 1"));
  REQUIRE_THROWS_WITH(Config::parse(kBroker, {{"unclean.leader.election.enable", "yes"}}),
                      Catch::Contains("either true or false"));
  REQUIRE_THROWS_WITH(Config::parse(kBroker, {{"ksim.truncation.mode", "hw"}}),
                      Catch::Contains("leader-epoch, high-watermark"));
}

TEST_CASE("idempotence: explicit conflicts fail - default-on idempotence yields (KIP-679)", "[config]") {
  REQUIRE_THROWS_WITH(Config::parse(kProducer, {{"enable.idempotence", "true"}, {"acks", "1"}}),
                      Catch::Contains("Must set acks to all in order to use the idempotent producer"));
  REQUIRE_THROWS_WITH(
      Config::parse(kProducer, {{"enable.idempotence", "true"}, {"max.in.flight.requests.per.connection", "6"}}),
      Catch::Contains("at most 5"));
  REQUIRE_THROWS_WITH(Config::parse(kProducer, {{"enable.idempotence", "true"}, {"retries", "0"}}),
                      Catch::Contains("retries to non-zero"));
  REQUIRE_FALSE(Config::parse(kProducer, {{"acks", "1"}}).get_bool("enable.idempotence"));
  REQUIRE_THROWS_WITH(Config::parse(kProducer, {{"transactional.id", "t"}, {"enable.idempotence", "false"}}),
                      Catch::Contains("Cannot set a transactional.id without also enabling idempotence"));
}

TEST_CASE("delivery.timeout.ms must cover linger.ms + request.timeout.ms", "[config]") {
  REQUIRE_THROWS_WITH(Config::parse(kProducer, {{"delivery.timeout.ms", "1000"}}),
                      Catch::Contains("equal to or larger than linger.ms + request.timeout.ms"));
  REQUIRE(Config::parse(kProducer, {{"request.timeout.ms", "200000"}}).get_long("delivery.timeout.ms") == 200005);
}

TEST_CASE("consumer rules: static membership needs a group - assignor names", "[config]") {
  REQUIRE_THROWS_WITH(Config::parse(kConsumer, {{"group.instance.id", "i"}}), Catch::Contains("requires group.id"));
  REQUIRE_FALSE(Config::parse(kConsumer, {}).get_bool("enable.auto.commit"));  // no group: nothing to commit to
  const Config c = Config::parse(
      kConsumer, {{"group.id", "g"},
                  {"partition.assignment.strategy", "org.apache.kafka.clients.consumer.RoundRobinAssignor"}});
  REQUIRE(c.get_list("partition.assignment.strategy") == std::vector<std::string>{"roundrobin"});
  REQUIRE_THROWS_WITH(Config::parse(kConsumer, {{"group.id", "g"}, {"partition.assignment.strategy", "magic"}}),
                      Catch::Contains("Unknown assignor"));
}

TEST_CASE("topic configs inherit the broker's values", "[config]") {
  const Config broker = Config::parse(kBroker, {{"min.insync.replicas", "2"}, {"log.retention.ms", "1000"}});
  const Config topic = Config::parse(kTopic, {{"segment.bytes", "1048576"}}, &broker);
  REQUIRE(topic.get_int("min.insync.replicas") == 2);
  REQUIRE(topic.get_long("retention.ms") == 1000);
  REQUIRE(topic.get_int("segment.bytes") == 1048576);
  REQUIRE(topic.get_string("compression.type") == "producer");
  REQUIRE(Config::parse(kTopic, {{"min.insync.replicas", "3"}}, &broker).get_int("min.insync.replicas") == 3);
}

TEST_CASE("the effective config lists every key and marks defaults", "[config]") {
  const Config p = Config::parse(kProducer, {{"acks", "1"}});
  const auto eff = p.effective();
  REQUIRE(eff.size() > 15);
  REQUIRE(std::is_sorted(eff.begin(), eff.end()));
  REQUIRE(p.describe().find("acks = 1\n") != std::string::npos);
  REQUIRE(p.describe().find("linger.ms = 5  (default)") != std::string::npos);
}

TEST_CASE("error names and retriability follow Kafka", "[errors]") {
  REQUIRE(errc_name(Errc::NOT_ENOUGH_REPLICAS) == "NOT_ENOUGH_REPLICAS");
  REQUIRE(retriable(Errc::NOT_LEADER_OR_FOLLOWER));
  REQUIRE(retriable(Errc::NOT_ENOUGH_REPLICAS_AFTER_APPEND));
  REQUIRE_FALSE(retriable(Errc::OUT_OF_ORDER_SEQUENCE_NUMBER));
  REQUIRE_FALSE(retriable(Errc::PRODUCER_FENCED));
  REQUIRE_FALSE(retriable(Errc::OFFSET_OUT_OF_RANGE));
}

// Found while fuzzing the config parser: delivery.timeout.ms is raised to
// linger.ms + request.timeout.ms when it is smaller (Kafka's producer does the
// same), and that sum overflowed an INT. Kafka caps it at Integer.MAX_VALUE.
TEST_CASE("delivery.timeout.ms raised past linger.ms is capped at INT32_MAX", "[config]") {
  const Config p = Config::parse(kProducer, {{"linger.ms", "2147483647"}});
  REQUIRE(p.get_int("delivery.timeout.ms") == INT32_MAX);
}
