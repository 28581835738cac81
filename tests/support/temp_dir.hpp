#pragma once

// A fresh directory under the system's temp dir, removed with everything in
// it when the test is done.

#include <cstdlib>
#include <filesystem>
#include <string>

namespace foreman_test {

struct temp_dir {
  std::filesystem::path path;

  temp_dir() {
    auto pattern
      = (std::filesystem::temp_directory_path() / "foreman-test-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }

  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  std::string file(const std::string& name) const {
    return (path / name).string();
  }
};

} // namespace foreman_test
