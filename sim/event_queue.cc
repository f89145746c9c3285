#include "sim/event_queue.h"

#include "sim/error.h"

namespace sim {

EventHandle EventQueue::emplace(Instant time, uint64_t seq, uint64_t aux, uint32_t slot, uint32_t node,
                                uint32_t incarnation, EventKind kind) {
  uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    SIM_ASSERT(bodies_.size() < 0xfffffff0u, "event queue full");
    id = static_cast<uint32_t>(bodies_.size());
    bodies_.emplace_back();
  }
  Body& b = bodies_[id];
  b.event.time = time;
  b.event.seq = seq;
  b.event.aux = aux;
  b.event.slot = slot;
  b.event.node = node;
  b.event.incarnation = incarnation;
  b.event.kind = kind;
  b.live = true;
  ++b.generation;
  heap_.push_back({});
  sift_up(heap_.size() - 1, Entry{time, seq, id});
  return {id, b.generation};
}

void EventQueue::sift_up(size_t i, Entry e) {
  while (i > 0) {
    const size_t parent = (i - 1) / 4;
    if (!before(e, heap_[parent])) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, e);
}

void EventQueue::sift_down(size_t i, Entry e) {
  const size_t n = heap_.size();
  for (;;) {
    const size_t first = 4 * i + 1;
    if (first >= n) break;
    size_t best = first;
    const size_t end = first + 4 < n ? first + 4 : n;
    for (size_t c = first + 1; c < end; ++c)
      if (before(heap_[c], heap_[best])) best = c;
    if (!before(heap_[best], e)) break;
    place(i, heap_[best]);
    i = best;
  }
  place(i, e);
}

void EventQueue::erase_at(size_t i) {
  const Entry last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  if (i > 0 && before(last, heap_[(i - 1) / 4]))
    sift_up(i, last);
  else
    sift_down(i, last);
}

Event EventQueue::pop() {
  SIM_ASSERT(!heap_.empty(), "pop from an empty event queue");
  const uint32_t id = heap_[0].id;
  Body& b = bodies_[id];
  const Event e = b.event;
  b.live = false;
  free_.push_back(id);
  erase_at(0);
  return e;
}

bool EventQueue::remove(EventHandle h) {
  if (h.id >= bodies_.size()) return false;
  Body& b = bodies_[h.id];
  if (!b.live || b.generation != h.generation) return false;
  b.live = false;
  free_.push_back(h.id);
  erase_at(b.pos);
  return true;
}

}  // namespace sim
