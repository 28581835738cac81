#pragma once

// Blobs uploaded with POST /api/blobs/:digest. Only their digests are kept:
// nothing ever reads a blob's bytes back.

#include <mutex>
#include <set>
#include <string>

namespace fake_ollama {

class blob_store {
public:
  /// `hex` is the 64 hex digits after "sha256:", as the client wrote them.
  bool contains(const std::string& hex) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return digests_.count(hex) > 0;
  }

  void add(const std::string& hex) {
    std::lock_guard<std::mutex> lock(mutex_);
    digests_.insert(hex);
  }

private:
  mutable std::mutex mutex_;
  std::set<std::string> digests_;
};

} // namespace fake_ollama
