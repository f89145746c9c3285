// Kafka node ids (broker.id / node.id: 1, 2, 3, ...) and sim node indexes
// (0, 1, 2, ...). ksim adds a cluster's nodes to the World in id order, so the
// mapping is fixed: node id k lives on sim node k - 1. Clients are added after
// the cluster's nodes and have no Kafka node id.
#pragma once

#include <cstdint>

#include "sim/world.h"

namespace ksim {

inline sim::NodeId sim_node_of(int32_t kafka_id) { return sim::NodeId{static_cast<uint32_t>(kafka_id - 1)}; }
inline int32_t kafka_id_of(sim::NodeId n) { return static_cast<int32_t>(n.value) + 1; }

}  // namespace ksim
