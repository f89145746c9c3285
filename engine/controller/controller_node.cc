#include "engine/controller/controller_node.h"

#include "engine/broker/protocol.h"
#include "engine/common/node_ids.h"

namespace ksim {
namespace {

// A response of the right type for `api` that carries only an error.
sim::Payload error_response(const std::string& api, Errc e, const std::string& message) {
  if (api == "BrokerRegistration") return sim::make_payload(protocol::BrokerRegistrationResponse{e, -1});
  if (api == "BrokerHeartbeat") return sim::make_payload(protocol::BrokerHeartbeatResponse{e, true, false});
  if (api == "AlterPartition") return sim::make_payload(protocol::AlterPartitionResponse{e, -1, -1, {}});
  if (api == "AllocateProducerIds") return sim::make_payload(protocol::AllocateProducerIdsResponse{e, -1, 0});
  return sim::make_payload(protocol::AdminResponse{e, message});
}

constexpr const char* kControllerApis[] = {"BrokerRegistration", "BrokerHeartbeat", "AlterPartition",
                                           "CreateTopics",       "ElectLeaders",    "IncrementalAlterConfigs",
                                           "AllocateProducerIds", "CreatePartitions",  "AlterClientQuotas"};

}  // namespace

ControllerNode::ControllerNode(sim::World& world, sim::NodeId self, raft::RaftClient& raft, Config broker_config)
    : world_(world),
      self_(self),
      config_(broker_config),
      raft_(&raft),
      qc_(std::move(broker_config), world.rng("controller/" + std::to_string(kafka_id_of(self)))),
      events_(world, 100'000) {
  for (const char* api : kControllerApis) {
    kinds_[api] = world_.network().kind(api);
    kinds_[std::string(api) + "Response"] = world_.network().kind(std::string(api) + "Response");
  }
}

void ControllerNode::start() {
  for (const char* api : kControllerApis)
    world_.network().set_kind_handler(self_, kinds_.at(api), [this](sim::Incoming&& in) {
      if (!events_.try_push(std::move(in))) world_.probe("controller: event queue full");
    });
  world_.spawn(self_, "controller-loop", [this] { loop(); });
}

void ControllerNode::on_commit(const raft::RaftEntry& e) {
  // Requests waiting for this offset: answered with success only if the entry
  // committed there is the one we proposed (same Raft epoch); a deposed
  // controller's proposal may have been replaced by its successor's entry.
  while (!parked_.empty() && parked_.front().offset <= e.offset.value) {
    Parked p = std::move(parked_.front());
    parked_.erase(parked_.begin());
    if (p.offset == e.offset.value && p.raft_epoch == e.epoch.value && !e.control) {
      world_.network().respond(p.request, p.kind, std::move(p.response), p.size);
    } else {
      ++stats_.not_controller;
      world_.network().respond(p.request, p.kind,
                               error_response(p.api, Errc::NOT_CONTROLLER, "the proposal did not commit"), 32);
    }
  }
  if (e.control) {
    // Our own epoch's LeaderChange is committed: everything before it is replayed.
    if (raft_->is_leader() && e.epoch == raft_->epoch()) {
      leader_change_committed_epoch_ = e.epoch.value;
      events_.try_push(std::nullopt);
    }
    return;
  }
  const auto records = decode_records(*e.data);
  SIM_ASSERT(records.has_value(), "undecodable metadata log entry");
  for (const MetadataRecord& r : *records) qc_.replay(r, e.offset.value);
}

void ControllerNode::fail_parked() {
  for (Parked& p : parked_) {
    ++stats_.not_controller;
    world_.network().respond(p.request, p.kind,
                             error_response(p.api, Errc::NOT_CONTROLLER, "the controller lost its leadership"), 32);
  }
  parked_.clear();
}

void ControllerNode::sync_leadership() {
  const bool leader = raft_->is_leader();
  if (qc_.active() && (!leader || raft_->epoch().value != active_epoch_)) {
    qc_.deactivate();
    fail_parked();
  }
  if (!qc_.active() && leader && leader_change_committed_epoch_ == raft_->epoch().value) {
    active_epoch_ = raft_->epoch().value;
    qc_.activate(world_.now());
    next_offset_ = raft_->log_end_offset().value;
    ++stats_.activations;
    world_.probe("controller: became active");
  }
}

void ControllerNode::loop() {
  const sim::Duration tick = sim::milliseconds(config_.get_long("broker.heartbeat.interval.ms") / 4 + 1);
  sim::Instant next_tick = world_.now() + tick;
  for (;;) {
    const sim::Duration wait = next_tick > world_.now() ? next_tick - world_.now() : sim::Duration{};
    std::optional<std::optional<sim::Incoming>> ev = events_.pop_for(wait);
    sync_leadership();
    if (ev && *ev) handle(std::move(**ev));
    if (world_.now() >= next_tick) {
      next_tick = world_.now() + tick;
      if (qc_.active()) {
        qc_.prepare(next_offset_);
        ControllerResult r = qc_.tick(world_.now());
        if (!r.records.empty()) {
          auto res = raft_->propose(std::make_shared<const std::string>(encode_records(r.records)));
          if (res.error == Errc::NONE) {
            next_offset_ = res.offset.value + 1;
          } else {
            // Stepping down: what we decided is not in the log; start afresh later.
            qc_.deactivate();
            fail_parked();
          }
        }
      }
    }
  }
}

void ControllerNode::respond_now(const sim::Incoming& in, sim::KindId kind, sim::Payload response, uint32_t size) {
  world_.network().respond(in, kind, std::move(response), size);
}

void ControllerNode::propose_then_respond(const sim::Incoming& in, std::vector<MetadataRecord> records,
                                          sim::KindId kind, sim::Payload response, uint32_t size) {
  if (records.empty()) {
    respond_now(in, kind, std::move(response), size);
    return;
  }
  ++stats_.proposals;
  const auto res = raft_->propose(std::make_shared<const std::string>(encode_records(records)));
  if (res.error != Errc::NONE) {
    // Lost leadership between the check and the proposal.
    qc_.deactivate();
    fail_parked();
    respond_now(in, kind, error_response(world_.network().kind_name(in.kind), Errc::NOT_CONTROLLER,
                                         "not the active controller"), 32);
    return;
  }
  SIM_ASSERT(res.offset.value == next_offset_, "metadata entry landed at an unexpected offset");
  next_offset_ = res.offset.value + 1;
  parked_.push_back(Parked{in, res.offset.value, std::move(response), size, kind, world_.network().kind_name(in.kind),
                           raft_->epoch().value});
}

void ControllerNode::handle(sim::Incoming&& in) {
  ++stats_.requests;
  sim::Network& net = world_.network();
  const std::string& api = net.kind_name(in.kind);
  const sim::KindId resp_kind = kinds_.at(api + "Response");
  if (!qc_.active()) {
    ++stats_.not_controller;
    respond_now(in, resp_kind, error_response(api, Errc::NOT_CONTROLLER, "not the active controller"), 32);
    return;
  }
  qc_.prepare(next_offset_);
  const sim::Instant now = world_.now();
  if (api == "BrokerRegistration") {
    const auto& req = sim::payload_as<protocol::BrokerRegistrationRequest>(in.payload);
    ControllerResult r = qc_.register_broker(req.broker_id, req.incarnation, now, req.previous_broker_epoch);
    propose_then_respond(in, std::move(r.records), resp_kind,
                         sim::make_payload(protocol::BrokerRegistrationResponse{r.error, next_offset_}), 32);
  } else if (api == "BrokerHeartbeat") {
    const auto& req = sim::payload_as<protocol::BrokerHeartbeatRequest>(in.payload);
    HeartbeatReply h = qc_.heartbeat(req.broker_id, req.broker_epoch, req.current_metadata_offset,
                                     req.want_shut_down, now);
    propose_then_respond(in, std::move(h.records), resp_kind,
                         sim::make_payload(protocol::BrokerHeartbeatResponse{h.error, h.fenced, h.should_shut_down}), 32);
  } else if (api == "AlterPartition") {
    const auto& req = sim::payload_as<protocol::AlterPartitionRequest>(in.payload);
    AlterPartitionReply a = qc_.alter_partition(req.broker_id, req.broker_epoch, req.tp.topic, req.tp.partition,
                                                req.leader_epoch, req.partition_epoch, req.new_isr);
    propose_then_respond(in, std::move(a.records), resp_kind,
                         sim::make_payload(protocol::AlterPartitionResponse{a.error, a.leader_epoch, a.partition_epoch, a.isr}),
                         64);
  } else if (api == "CreateTopics") {
    const auto& req = sim::payload_as<protocol::CreateTopicsRequest>(in.payload);
    Config::Map cfg(req.configs.begin(), req.configs.end());
    ControllerResult r = qc_.create_topic(TopicSpec{req.name, req.partitions, req.replication_factor, req.assignment, cfg});
    propose_then_respond(in, std::move(r.records), resp_kind, sim::make_payload(protocol::AdminResponse{r.error, r.message}), 64);
  } else if (api == "CreatePartitions") {
    const auto& req = sim::payload_as<protocol::CreatePartitionsRequest>(in.payload);
    ControllerResult r = qc_.create_partitions(req.topic, req.count);
    propose_then_respond(in, std::move(r.records), resp_kind, sim::make_payload(protocol::AdminResponse{r.error, r.message}), 64);
  } else if (api == "ElectLeaders") {
    const auto& req = sim::payload_as<protocol::ElectLeadersRequest>(in.payload);
    ControllerResult r = qc_.elect_leaders(req.unclean ? Election::unclean : Election::preferred, req.partitions);
    propose_then_respond(in, std::move(r.records), resp_kind, sim::make_payload(protocol::AdminResponse{r.error, r.message}), 64);
  } else if (api == "AllocateProducerIds") {
    const auto& req = sim::payload_as<protocol::AllocateProducerIdsRequest>(in.payload);
    ProducerIdsReply r = qc_.allocate_producer_ids(req.broker_id, req.broker_epoch);
    // Answered only once the block is committed: a block handed out must never be handed out again.
    propose_then_respond(in, std::move(r.records), resp_kind,
                         sim::make_payload(protocol::AllocateProducerIdsResponse{r.error, r.first, r.size}), 32);
  } else if (api == "AlterClientQuotas") {
    const auto& req = sim::payload_as<protocol::AlterClientQuotasRequest>(in.payload);
    std::vector<std::pair<ClientQuotaEntity, QuorumController::ClientQuotaOps>> entries;
    for (const protocol::ClientQuotaAlteration& a : req.entries) entries.emplace_back(a.entity, a.ops);
    ControllerResult r = qc_.alter_client_quotas(entries);
    propose_then_respond(in, std::move(r.records), resp_kind, sim::make_payload(protocol::AdminResponse{r.error, r.message}), 64);
  } else if (api == "IncrementalAlterConfigs") {
    const auto& req = sim::payload_as<protocol::AlterConfigRequest>(in.payload);
    ControllerResult r = qc_.alter_config(req.resource, req.key, req.value);
    propose_then_respond(in, std::move(r.records), resp_kind, sim::make_payload(protocol::AdminResponse{r.error, r.message}), 64);
  }
}

}  // namespace ksim
