#include "engine/broker/error_injection.h"

#include <functional>
#include <map>

#include "engine/broker/protocol.h"

namespace ksim {
namespace {

// A rewrite that copies a response of type T and lets `set` put the error in.
template <class T>
sim::PayloadRewrite rewrite(Errc error, std::function<void(T&, Errc)> set) {
  return [error, set = std::move(set)](const sim::Payload& p) {
    T copy = sim::payload_as<T>(p);
    set(copy, error);
    return sim::make_payload(std::move(copy));
  };
}

template <class T>
sim::PayloadRewrite top_level(Errc error) {
  return rewrite<T>(error, [](T& r, Errc e) { r.error = e; });
}

using Factory = std::function<sim::PayloadRewrite(Errc)>;

const std::map<std::string, Factory>& factories() {
  using namespace protocol;
  static const std::map<std::string, Factory> f = {
      {"Produce",
       [](Errc e) {
         return rewrite<ProduceResponse>(e, [](ProduceResponse& r, Errc err) {
           for (auto& p : r.partitions) {
             p.error = err;
             p.base_offset = kNoOffset;
             p.log_append_time_ms = -1;
           }
         });
       }},
      {"Fetch",
       [](Errc e) {
         return rewrite<FetchResponse>(e, [](FetchResponse& r, Errc err) {
           for (auto& p : r.partitions) {
             p.error = err;
             p.batches.clear();
             p.aborted_transactions.clear();
             p.diverging_epoch.reset();
           }
         });
       }},
      {"ListOffsets",
       [](Errc e) {
         return rewrite<ListOffsetsResponse>(e, [](ListOffsetsResponse& r, Errc err) {
           for (auto& p : r.partitions) {
             p.error = err;
             p.offset = kNoOffset;
           }
         });
       }},
      {"OffsetCommit",
       [](Errc e) {
         return rewrite<OffsetCommitResponse>(e, [](OffsetCommitResponse& r, Errc err) {
           for (auto& p : r.partitions) p.second = err;
         });
       }},
      {"AddPartitionsToTxn",
       [](Errc e) {
         return rewrite<AddPartitionsToTxnResponse>(e, [](AddPartitionsToTxnResponse& r, Errc err) {
           r.error = err;
           for (auto& p : r.partitions) p.second = err;
         });
       }},
      {"FindCoordinator", [](Errc e) { return top_level<FindCoordinatorResponse>(e); }},
      {"JoinGroup", [](Errc e) { return top_level<JoinGroupResponse>(e); }},
      {"SyncGroup", [](Errc e) { return top_level<SyncGroupResponse>(e); }},
      {"Heartbeat", [](Errc e) { return top_level<HeartbeatResponse>(e); }},
      {"OffsetFetch", [](Errc e) { return top_level<OffsetFetchResponse>(e); }},
      {"InitProducerId", [](Errc e) { return top_level<InitProducerIdResponse>(e); }},
      {"AddOffsetsToTxn", [](Errc e) { return top_level<AddOffsetsToTxnResponse>(e); }},
      {"EndTxn", [](Errc e) { return top_level<EndTxnResponse>(e); }},
  };
  return f;
}

}  // namespace

std::optional<sim::PayloadRewrite> error_response_rewrite(const std::string& api, Errc error) {
  const auto& f = factories();
  auto it = f.find(api);
  if (it == f.end()) return std::nullopt;
  return it->second(error);
}

const std::vector<std::string>& error_injection_apis() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [name, f] : factories()) out.push_back(name);
    return out;
  }();
  return names;
}

}  // namespace ksim
