#include "engine/clients/partitioner.h"

namespace ksim::clients {

int32_t murmur2(std::string_view data) {
  // Java int arithmetic is two's complement with wrap-around: do it in uint32_t
  // (defined overflow) and reinterpret at the end. `>>>` is a logical shift,
  // which is what >> does on an unsigned value.
  const uint32_t length = static_cast<uint32_t>(data.size());
  const uint32_t seed = 0x9747b28cU;
  const uint32_t m = 0x5bd1e995U;
  const int r = 24;
  uint32_t h = seed ^ length;
  const uint32_t length4 = length / 4;
  auto byte = [&](uint32_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(data[i])); };
  for (uint32_t i = 0; i < length4; ++i) {
    const uint32_t i4 = i * 4;
    uint32_t k = byte(i4) + (byte(i4 + 1) << 8) + (byte(i4 + 2) << 16) + (byte(i4 + 3) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const uint32_t tail = length & ~3U;
  switch (length % 4) {
    case 3:
      h ^= byte(tail + 2) << 16;
      [[fallthrough]];
    case 2:
      h ^= byte(tail + 1) << 8;
      [[fallthrough]];
    case 1:
      h ^= byte(tail);
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t RoundRobinPartitioner::partition(const std::string& topic, const PartitionView& view) {
  // Kafka: nextValue = counter.getAndIncrement(); toPositive(nextValue) % size.
  const int32_t next = counters_[topic]++;
  if (!view.available.empty())
    return view.available[static_cast<size_t>(to_positive(next) % static_cast<int32_t>(view.available.size()))];
  return to_positive(next) % view.count;
}

int32_t StickyPartitioner::next_partition(const PartitionView& view) {
  const int32_t random = to_positive(static_cast<int32_t>(rng_.next_u64()));
  if (!view.available.empty())
    return view.available[static_cast<size_t>(random % static_cast<int32_t>(view.available.size()))];
  return random % view.count;
}

int32_t StickyPartitioner::current(const std::string& topic, const PartitionView& view) {
  Sticky& s = sticky_[topic];
  if (s.partition < 0 || s.partition >= view.count) s = Sticky{next_partition(view), 0};
  return s.partition;
}

void StickyPartitioner::on_append(const std::string& topic, int32_t bytes, bool batch_full, const PartitionView& view) {
  Sticky& s = sticky_[topic];
  s.produced += bytes;
  // KIP-794: switch after batch.size bytes once the batch is full (so no small
  // leftover batch), and after 2 x batch.size regardless.
  if ((s.produced >= sticky_batch_size_ && batch_full) || s.produced >= 2 * sticky_batch_size_)
    s = Sticky{next_partition(view), 0};
}

}  // namespace ksim::clients
