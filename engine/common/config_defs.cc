// The table of every configuration key ksim knows: Kafka's name, type,
// Kafka 4.0's default, scope, and documentation. Keep it sorted by name.
#include "engine/common/config.h"

namespace ksim {
namespace {

constexpr uint8_t B = kBroker, T = kTopic, P = kProducer, C = kConsumer;
using CT = ConfigType;

std::map<std::string, ConfigDef, std::less<>> build() {
  std::vector<ConfigDef> defs = {
      // ---- producer ------------------------------------------------------------
      {"acks", CT::string, "all", P, "Acknowledgements the leader waits for: 0, 1 or all (-1).", {}, {},
       {"0", "1", "all", "-1"}},
      {"batch.size", CT::int32, "16384", P, "Bytes per partition batch.", 0},
      {"buffer.memory", CT::int64, "33554432", P, "Bytes the producer may buffer.", 0},
      {"client.id", CT::string, "", P | C, "Logical client name in traces."},
      {"compression.type", CT::string, "none", P | T,
       "Batch compression (ksim models the size ratio); on a topic, `producer` keeps the producer's.", {}, {},
       {"none", "gzip", "snappy", "lz4", "zstd", "producer"}, {}, "producer"},
      {"delivery.timeout.ms", CT::int32, "120000", P, "Upper bound on the time to report success or failure of a send.", 0},
      {"enable.idempotence", CT::boolean, "true", P, "Exactly-once per partition via producer id + sequence numbers."},
      {"linger.ms", CT::int32, "5", P, "Time a batch waits for more records (Kafka 4.0 default 5).", 0},
      {"max.block.ms", CT::int64, "60000", P, "Time send() may block when the buffer is full or metadata is missing.", 0},
      {"max.in.flight.requests.per.connection", CT::int32, "5", P, "Unacknowledged requests per broker connection.", 1},
      {"max.request.size", CT::int32, "1048576", P, "Largest request the producer sends.", 0},
      {"metadata.max.age.ms", CT::int64, "300000", P | C, "Forced metadata refresh period.", 0},
      {"partitioner.class", CT::string, std::nullopt, P, "Partitioner: null (built-in sticky/murmur2) or RoundRobinPartitioner."},
      {"partitioner.ignore.keys", CT::boolean, "false", P, "Ignore keys when partitioning."},
      {"request.timeout.ms", CT::int32, "30000", P | C, "Time to wait for a response before retrying / failing.", 0},
      {"retries", CT::int32, "2147483647", P, "Retries of a failed send (bounded by delivery.timeout.ms).", 0},
      {"retry.backoff.ms", CT::int64, "100", P | C, "Backoff before retrying a failed request.", 0},
      {"retry.backoff.max.ms", CT::int64, "1000", P | C, "Maximum exponential retry backoff.", 0},
      {"reconnect.backoff.ms", CT::int64, "50", P | C, "Backoff before reconnecting to a broker.", 0},
      {"reconnect.backoff.max.ms", CT::int64, "1000", P | C,
       "Maximum reconnect backoff: it doubles on each refused connection to a broker up to this.", 0},
      {"transaction.timeout.ms", CT::int32, "60000", P, "Time a transaction may stay open.", 1},
      {"transactional.id", CT::string, std::nullopt, P, "Enables transactions; requires idempotence."},
      // ---- consumer ------------------------------------------------------------
      {"auto.commit.interval.ms", CT::int32, "5000", C, "Auto-commit period (committed from poll).", 0},
      {"auto.offset.reset", CT::string, "latest", C, "Where to start without a committed offset.", {}, {},
       {"latest", "earliest", "none"}},
      {"default.api.timeout.ms", CT::int32, "60000", C,
       "Timeout of blocking consumer calls given none (commitSync, position, committed, ...).", 0},
      {"enable.auto.commit", CT::boolean, "true", C, "Commit consumed offsets periodically from poll()."},
      {"allow.auto.create.topics", CT::boolean, "true", C,
       "Let metadata requests for subscribed or assigned topics create them (if the broker allows it)."},
      {"fetch.max.bytes", CT::int32, "52428800", C, "Maximum bytes per fetch response.", 0},
      {"fetch.max.wait.ms", CT::int32, "500", C, "Long-poll wait when fetch.min.bytes is not available.", 0},
      {"fetch.min.bytes", CT::int32, "1", C, "Minimum bytes before a fetch returns.", 0},
      {"group.id", CT::string, std::nullopt, C, "Consumer group; required for subscribe() and commits."},
      {"group.instance.id", CT::string, std::nullopt, C, "Static membership id."},
      {"group.protocol", CT::string, "classic", C,
       "Group protocol: classic (JoinGroup/SyncGroup) or consumer (KIP-848, ConsumerGroupHeartbeat).", {}, {},
       {"classic", "consumer"}},
      {"group.remote.assignor", CT::string, std::nullopt, C,
       "group.protocol=consumer: the server-side assignor to use (null: the broker's first group.consumer.assignors).",
       {}, {}, {"uniform", "range"}},
      {"heartbeat.interval.ms", CT::int32, "3000", C, "Background heartbeat period.", 0},
      {"isolation.level", CT::string, "read_uncommitted", C, "read_committed hides aborted and open transactions.", {},
       {}, {"read_uncommitted", "read_committed"}},
      {"max.partition.fetch.bytes", CT::int32, "1048576", C, "Maximum bytes per partition per fetch.", 0},
      {"max.poll.interval.ms", CT::int32, "300000", C, "A consumer not polling this long leaves the group.", 1},
      {"max.poll.records", CT::int32, "500", C, "Records returned by one poll().", 1},
      {"partition.assignment.strategy", CT::list, "range,cooperative-sticky", C,
       "Assignors in preference order: range, roundrobin, sticky, cooperative-sticky (Kafka's class names accepted)."},
      {"session.timeout.ms", CT::int32, "45000", C, "Member considered dead without heartbeats this long.", 0},
      // ---- broker (and topic defaults) ----------------------------------------------
      {"auto.create.topics.enable", CT::boolean, "true", B, "Create unknown topics on metadata request."},
      {"auto.leader.rebalance.enable", CT::boolean, "true", B, "Move leadership back to preferred replicas."},
      {"broker.heartbeat.interval.ms", CT::int32, "2000", B, "Broker -> controller heartbeat period.", 1},
      {"broker.session.timeout.ms", CT::int32, "9000", B, "A broker without heartbeats this long is fenced.", 1},
      {"cleanup.policy", CT::list, "delete", T, "delete or compact.", {}, {}, {}, "log.cleanup.policy"},
      {"controlled.shutdown.enable", CT::boolean, "true", B, "Move leaderships away before a clean shutdown."},
      {"controller.quorum.election.backoff.max.ms", CT::int32, "1000", B, "Max random backoff before a new election.", 0},
      {"controller.quorum.election.timeout.ms", CT::int32, "1000", B, "Time without a leader before an election.", 1},
      {"controller.quorum.fetch.timeout.ms", CT::int32, "2000", B, "Time without a successful fetch before an election.", 1},
      {"controller.quorum.request.timeout.ms", CT::int32, "2000", B, "Request timeout inside the controller quorum.", 1},
      {"default.replication.factor", CT::int32, "1", B, "Replication factor of auto-created topics.", 1},
      {"delete.topic.enable", CT::boolean, "true", B, "Allow topic deletion."},
      {"flush.messages", CT::int64, "9223372036854775807", T, "fsync after this many messages.", 1, {}, {},
       "log.flush.interval.messages"},
      {"flush.ms", CT::int64, "9223372036854775807", T, "fsync after this long.", 0, {}, {}, "log.flush.interval.ms"},
      {"group.consumer.assignors", CT::list, "uniform,range", B,
       "Server-side assignors of consumer (KIP-848) groups; the first is the default."},
      {"group.consumer.heartbeat.interval.ms", CT::int32, "5000", B, "Heartbeat interval given to consumer-group members.", 1},
      {"group.consumer.session.timeout.ms", CT::int32, "45000", B, "A consumer-group member without heartbeats this long is fenced.", 1},
      {"group.initial.rebalance.delay.ms", CT::int32, "3000", B, "Delay of the first rebalance of an empty group.", 0},
      {"group.max.session.timeout.ms", CT::int32, "1800000", B, "Largest session timeout a member may ask for.", 1},
      {"group.max.size", CT::int32, "2147483647", B, "Most members a classic group accepts (GROUP_MAX_SIZE_REACHED beyond).", 1},
      {"group.min.session.timeout.ms", CT::int32, "6000", B, "Smallest session timeout a member may ask for.", 1},
      {"leader.imbalance.check.interval.seconds", CT::int64, "300", B, "Preferred leader check period.", 1},
      {"log.cleanup.policy", CT::list, "delete", B, "Broker default of cleanup.policy."},
      {"log.flush.interval.messages", CT::int64, "9223372036854775807", B, "Broker default of flush.messages.", 1},
      {"log.flush.interval.ms", CT::int64, "9223372036854775807", B, "Broker default of flush.ms.", 0},
      {"log.index.interval.bytes", CT::int32, "4096", B, "Bytes between offset index entries.", 0},
      {"log.retention.bytes", CT::int64, "-1", B, "Broker default of retention.bytes."},
      {"log.retention.ms", CT::int64, "604800000", B, "Broker default of retention.ms (168 hours)."},
      {"log.roll.ms", CT::int64, "604800000", B, "Broker default of segment.ms (168 hours).", 1},
      {"log.segment.bytes", CT::int32, "1073741824", B, "Broker default of segment.bytes.", 14},
      {"max.message.bytes", CT::int32, "1048588", T, "Largest record batch.", 0, {}, {}, "message.max.bytes"},
      {"message.max.bytes", CT::int32, "1048588", B, "Broker default of max.message.bytes.", 0},
      {"message.timestamp.type", CT::string, "CreateTime", T, "CreateTime or LogAppendTime.", {}, {},
       {"CreateTime", "LogAppendTime"}, "log.message.timestamp.type"},
      {"log.message.timestamp.type", CT::string, "CreateTime", B, "Broker default of message.timestamp.type.", {}, {},
       {"CreateTime", "LogAppendTime"}},
      {"min.insync.replicas", CT::int32, "1", B | T, "Replicas that must have a write for acks=all to succeed.", 1, {},
       {}, "min.insync.replicas"},
      {"num.partitions", CT::int32, "1", B, "Partitions of auto-created topics.", 1},
      {"offsets.commit.timeout.ms", CT::int32, "5000", B, "How long an offset commit or group write waits for its record to commit.", 1},
      {"offsets.topic.num.partitions", CT::int32, "50", B, "Partitions of __consumer_offsets.", 1},
      {"offsets.topic.replication.factor", CT::int32, "3", B, "Replication factor of __consumer_offsets.", 1},
      {"offsets.topic.segment.bytes", CT::int32, "104857600", B, "segment.bytes of __consumer_offsets.", 1},
      {"producer.id.expiration.ms", CT::int32, "86400000", B, "Idle producer ids are forgotten after this.", 1},
      {"replica.fetch.backoff.ms", CT::int32, "1000", B, "Follower backoff after a fetch error.", 0},
      {"replica.fetch.max.bytes", CT::int32, "1048576", B, "Bytes per partition per follower fetch.", 0},
      {"replica.fetch.min.bytes", CT::int32, "1", B, "Minimum bytes before a follower fetch returns.", 0},
      {"replica.fetch.wait.max.ms", CT::int32, "500", B, "Follower fetch long-poll wait.", 0},
      {"replica.high.watermark.checkpoint.interval.ms", CT::int64, "5000", B, "High watermark checkpoint period.", 1},
      {"replica.lag.time.max.ms", CT::int64, "30000", B, "A follower not caught up this long leaves the ISR.", 1},
      {"replica.socket.timeout.ms", CT::int32, "30000", B, "Follower fetch request timeout.", 1},
      {"retention.bytes", CT::int64, "-1", T, "Maximum partition size before old segments go (-1: none).", {}, {}, {},
       "log.retention.bytes"},
      {"retention.ms", CT::int64, "604800000", T, "Age after which old segments go (-1: never).", -1, {}, {},
       "log.retention.ms"},
      {"segment.bytes", CT::int32, "1073741824", T, "Segment file size.", 14, {}, {}, "log.segment.bytes"},
      {"segment.ms", CT::int64, "604800000", T, "Segment roll period.", 1, {}, {}, "log.roll.ms"},
      {"add.partitions.to.txn.retry.backoff.ms", CT::int32, "20", B,
       "KIP-890 verification: back-off between AddPartitionsToTxn retries on CONCURRENT_TRANSACTIONS.", 0},
      {"add.partitions.to.txn.retry.backoff.max.ms", CT::int32, "100", B,
       "KIP-890 verification: how long a produce keeps retrying before failing (retriable) for the producer.", 0},
      {"transaction.abort.timed.out.transaction.cleanup.interval.ms", CT::int32, "10000", B,
       "How often the transaction coordinator aborts transactions past their timeout.", 1},
      {"transaction.max.timeout.ms", CT::int32, "900000", B, "The largest transaction.timeout.ms a producer may ask for.", 1},
      {"transaction.state.log.min.isr", CT::int32, "2", B, "min.insync.replicas of __transaction_state.", 1},
      {"transaction.state.log.num.partitions", CT::int32, "50", B, "Partitions of __transaction_state.", 1},
      {"transaction.state.log.replication.factor", CT::int32, "3", B, "Replication factor of __transaction_state.", 1},
      {"transaction.state.log.segment.bytes", CT::int32, "104857600", B, "segment.bytes of __transaction_state.", 1},
      {"unclean.leader.election.enable", CT::boolean, "false", B | T,
       "Allow an out-of-sync replica to become leader (data loss).", {}, {}, {}, "unclean.leader.election.enable"},
      // ---- ksim's own switches (first value is the default: the fixed behaviour) ----
      // Planted bugs (ksim.bug.*): engine mutations for checker validation only.
      // Each breaks one promise so a test can show the matching checker fires.
      {"ksim.bug.ack.before.isr", CT::boolean, "false", B, "PLANTED BUG: acks=all is answered at append, before the ISR has the batch."},
      {"ksim.bug.hw.is.leader.leo", CT::boolean, "false", B, "PLANTED BUG: the leader's HW is its own log end offset."},
      {"ksim.bug.follower.never.truncates", CT::boolean, "false", B, "PLANTED BUG: a follower never truncates its log."},
      {"ksim.bug.skip.idempotent.dedupe", CT::boolean, "false", B, "PLANTED BUG: the broker appends duplicate idempotent batches."},
      {"ksim.bug.read.past.hw", CT::boolean, "false", B, "PLANTED BUG: consumer fetches return records above the HW."},
      {"ksim.bug.skip.generation.check", CT::boolean, "false", B, "PLANTED BUG: the group coordinator accepts commits from any generation."},
      {"ksim.bug.unclean.without.permission", CT::boolean, "false", B, "PLANTED BUG: the controller elects out-of-sync replicas although unclean election is disabled."},
      {"ksim.consumer.group.pending.revocation", CT::string, "fixed", B,
       "ignore: a partition pending revocation counts as free and is assigned to another member at once (KAFKA-16147).",
       {}, {}, {"fixed", "ignore"}},
      {"ksim.eligible.leader.replicas", CT::boolean, "true", B, "KIP-966 Eligible Leader Replicas on/off."},
      {"ksim.fetch.leader.epoch.validation", CT::boolean, "true", B, "false: pre-KIP-320 fetches (no epoch fencing)."},
      {"ksim.group.generation.fencing", CT::boolean, "true", B, "false: zombie commits after a rebalance are accepted."},
      {"ksim.hw.includes.pending.isr", CT::boolean, "true", B, "false: HW over the current ISR only."},
      {"ksim.offsets.for.leader.epoch", CT::string, "kip-279", B, "kip-101: KIP-101 without KIP-279's answer.", {}, {},
       {"kip-279", "kip-101"}},
      {"ksim.transaction.protocol", CT::string, "v2", B, "v1: transactions without KIP-890's checks.", {}, {},
       {"v2", "v1"}},
      {"ksim.truncation.mode", CT::string, "leader-epoch", B, "high-watermark: pre-KIP-101 truncation.", {}, {},
       {"leader-epoch", "high-watermark"}},
  };
  std::map<std::string, ConfigDef, std::less<>> out;
  for (auto& d : defs) out.emplace(d.name, std::move(d));
  return out;
}

}  // namespace

const std::map<std::string, ConfigDef, std::less<>>& config_defs() {
  static const auto defs = build();  // immutable table: not simulation state
  return defs;
}

const ConfigDef* find_config(std::string_view name) {
  const auto& d = config_defs();
  auto it = d.find(name);
  return it == d.end() ? nullptr : &it->second;
}

}  // namespace ksim
