// Kafka's error codes, by Kafka's names and numbers (the protocol's
// ErrorCode table), with Kafka's retriable classification. Engine code returns
// these; clients decide to retry on `retriable()`, exactly as the Java client.
#pragma once

#include <cstdint>
#include <string_view>

namespace ksim {

enum class Errc : int16_t {
  NONE = 0,
  OFFSET_OUT_OF_RANGE = 1,
  CORRUPT_MESSAGE = 2,
  UNKNOWN_TOPIC_OR_PARTITION = 3,
  LEADER_NOT_AVAILABLE = 5,
  NOT_LEADER_OR_FOLLOWER = 6,
  REQUEST_TIMED_OUT = 7,
  MESSAGE_TOO_LARGE = 10,
  NETWORK_EXCEPTION = 13,
  COORDINATOR_LOAD_IN_PROGRESS = 14,
  COORDINATOR_NOT_AVAILABLE = 15,
  NOT_COORDINATOR = 16,
  RECORD_LIST_TOO_LARGE = 18,
  NOT_ENOUGH_REPLICAS = 19,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
  INVALID_REQUIRED_ACKS = 21,
  ILLEGAL_GENERATION = 22,
  INCONSISTENT_GROUP_PROTOCOL = 23,
  INVALID_GROUP_ID = 24,
  UNKNOWN_MEMBER_ID = 25,
  INVALID_SESSION_TIMEOUT = 26,
  REBALANCE_IN_PROGRESS = 27,
  INVALID_COMMIT_OFFSET_SIZE = 28,
  INVALID_TOPIC_EXCEPTION = 17,
  TOPIC_ALREADY_EXISTS = 36,
  INVALID_PARTITIONS = 37,
  INVALID_REPLICATION_FACTOR = 38,
  INVALID_REPLICA_ASSIGNMENT = 39,
  INVALID_CONFIG = 40,
  NOT_CONTROLLER = 41,
  INVALID_REQUEST = 42,
  UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
  OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
  DUPLICATE_SEQUENCE_NUMBER = 46,
  INVALID_PRODUCER_EPOCH = 47,
  INVALID_TXN_STATE = 48,
  INVALID_PRODUCER_ID_MAPPING = 49,
  INVALID_TRANSACTION_TIMEOUT = 50,
  CONCURRENT_TRANSACTIONS = 51,
  TRANSACTION_COORDINATOR_FENCED = 52,
  KAFKA_STORAGE_ERROR = 56,
  LOG_DIR_NOT_FOUND = 57,
  UNKNOWN_PRODUCER_ID = 59,
  REASSIGNMENT_IN_PROGRESS = 60,
  FETCH_SESSION_ID_NOT_FOUND = 70,
  INVALID_FETCH_SESSION_EPOCH = 71,
  FENCED_LEADER_EPOCH = 74,
  STALE_BROKER_EPOCH = 77,
  UNKNOWN_LEADER_EPOCH = 75,
  OFFSET_NOT_AVAILABLE = 78,
  MEMBER_ID_REQUIRED = 79,
  PREFERRED_LEADER_NOT_AVAILABLE = 80,
  GROUP_MAX_SIZE_REACHED = 81,
  FENCED_INSTANCE_ID = 82,
  ELIGIBLE_LEADERS_NOT_AVAILABLE = 83,
  ELECTION_NOT_NEEDED = 84,
  UNSTABLE_OFFSET_COMMIT = 88,
  UNSUPPORTED_VERSION = 35,
  INCONSISTENT_VOTER_SET = 94,
  INVALID_UPDATE_VERSION = 95,
  FEATURE_UPDATE_FAILED = 96,
  PRINCIPAL_DESERIALIZATION_FAILURE = 97,
  GROUP_ID_NOT_FOUND = 69,
  FENCED_MEMBER_EPOCH = 110,
  UNRELEASED_INSTANCE_ID = 111,
  UNSUPPORTED_ASSIGNOR = 112,
  STALE_MEMBER_EPOCH = 113,
  PRODUCER_FENCED = 90,
  UNKNOWN_TOPIC_ID = 100,
  DUPLICATE_BROKER_REGISTRATION = 101,
  TRANSACTIONAL_ID_NOT_FOUND = 105,
  INELIGIBLE_REPLICA = 107,
  NEW_LEADER_ELECTED = 108,
  OFFSET_MOVED_TO_TIERED_STORAGE = 109,
  TRANSACTION_ABORTABLE = 120,
  INVALID_VOTER_KEY = 125,
  DUPLICATE_VOTER = 126,
  VOTER_NOT_FOUND = 127,
  INVALID_REGULAR_EXPRESSION = 128,  // KIP-848: a SubscribedTopicRegex that does not compile
  // Kafka's Java client raises TimeoutException locally (no wire code); ksim
  // reports client-side expiry under this name.
  DELIVERY_TIMEOUT = -100,
  // Kafka's TransactionAbortedException: a record the producer never sent
  // because its transaction was aborted first.
  TRANSACTION_ABORTED = -101,
  UNKNOWN_SERVER_ERROR = -1,
};

std::string_view errc_name(Errc e);
// As Kafka's RetriableException hierarchy classifies them.
bool retriable(Errc e);
// Fatal for the client that got it (confluent-kafka's KafkaError.fatal()):
// PRODUCER_FENCED (a newer producer owns the transactional.id) and
// FENCED_INSTANCE_ID (a newer consumer owns the group.instance.id). A client
// also turns other codes fatal by context (Java's TransactionManager reads
// INVALID_PRODUCER_EPOCH on EndTxn as ProducerFencedException).
bool fatal_error(Errc e);
// Leaves a transaction abortable, not the producer dead (KafkaError
// .txn_requires_abort()): INVALID_PRODUCER_EPOCH on Produce (KAFKA-10687,
// InvalidProducerEpochException) and TRANSACTION_ABORTABLE (KIP-890).
bool txn_abortable_error(Errc e);
// Whether a Produce that failed with `e` may nevertheless have been appended
// (a timeout, a cut connection, NOT_ENOUGH_REPLICAS_AFTER_APPEND, and with
// acks=all NOT_LEADER_OR_FOLLOWER from the purgatory after a leader change):
// its outcome is unknown, not a definite failure.
bool produce_may_have_written(Errc e, int16_t acks);

}  // namespace ksim
