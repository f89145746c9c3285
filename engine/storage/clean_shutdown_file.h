// The clean-shutdown file: Kafka's CleanShutdownFileHandler (KIP-966).
//
//   <log dir>/.kafka_cleanshutdown    {"version":0,"brokerEpoch":42}
//
// A broker writes it (and fsyncs it) as the last step of a clean shutdown,
// after every log was flushed, holding the broker epoch it was registered
// with. At startup the broker reads it, sends the epoch to the controller as
// BrokerRegistrationRequest.PreviousBrokerEpoch, and deletes it once its logs
// are loaded. No file (a crash or a power failure stopped the broker) or an
// unreadable one means "not provably clean": epoch -1, and the controller
// takes the broker out of every ISR and ELR, since unflushed records may be
// gone.
#pragma once

#include <cstdint>
#include <string>

#include "engine/common/errors.h"
#include "sim/disk.h"

namespace ksim::storage {

inline constexpr const char* kCleanShutdownFileName = ".kafka_cleanshutdown";

class CleanShutdownFile {
 public:
  CleanShutdownFile(sim::Disk& disk, const std::string& log_dir)
      : disk_(&disk), path_(log_dir + "/" + kCleanShutdownFileName) {}

  // Writes the file and fsyncs it.
  Errc write(int64_t broker_epoch);
  // The recorded broker epoch, or -1 if the file is missing or malformed.
  int64_t read() const;
  // Removes the file if present.
  Errc remove();
  const std::string& path() const { return path_; }

 private:
  sim::Disk* disk_;
  std::string path_;
};

}  // namespace ksim::storage
