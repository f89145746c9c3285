// Result<T>: a value, or the Kafka error that prevented it.
//
// The storage layer never throws for expected failures (a disk error, a
// corrupt batch, an offset out of range): those are Kafka error codes that
// travel back to a client in a response. Exceptions are reserved for broken
// invariants (SIM_ASSERT) and for NodeCrashed unwinding a fiber.
#pragma once

#include <utility>

#include "engine/common/errors.h"

namespace ksim::storage {

template <class T>
struct Result {
  Errc error = Errc::NONE;
  T value{};

  Result(T v) : value(std::move(v)) {}  // NOLINT: implicit on purpose (return a value)
  Result(Errc e) : error(e) {}          // NOLINT: implicit on purpose (return an error)
  bool ok() const { return error == Errc::NONE; }
};

}  // namespace ksim::storage
