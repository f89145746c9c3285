// Error injection: a broker's answer replaced by an error, API by API — what
// a protocol fault proxy between clients and brokers does (Kafka's own,
// KAFKA-21074). The broker has done its work (a Produce was appended, a
// commit written); the client only hears the error, so a transient failure
// can be scripted without dropping a message.
//
// The rewrite copies the response and sets the error where that API carries
// it: on every partition of Produce / Fetch / ListOffsets / OffsetCommit /
// AddPartitionsToTxn (their data emptied: offsets -1, no records), at the top
// level of the others. sim/ stays protocol-agnostic: it only applies the
// function (a RuleAction::rewrite).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/common/errors.h"
#include "sim/network.h"

namespace ksim {

// The rewrite for `api`'s responses, or nullopt for an API it does not know.
std::optional<sim::PayloadRewrite> error_response_rewrite(const std::string& api, Errc error);
// The APIs error_response_rewrite knows, for error messages.
const std::vector<std::string>& error_injection_apis();

}  // namespace ksim
