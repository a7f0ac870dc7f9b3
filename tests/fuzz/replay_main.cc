// A main() for the fuzz targets without libFuzzer: runs LLVMFuzzerTestOneInput on every file
// named on the command line, or in the directories named there; -runs=N (as libFuzzer spells
// it) runs each N times, for reproducers of races. Used to replay the seed corpora and the
// regressions in ordinary (gcc, non-fuzzing) test runs; a failing input traps or aborts as
// it would under libFuzzer. Other -flags are libFuzzer's and ignored.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Optional, as under libFuzzer: called once with the command line before any input.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<std::filesystem::path> files;
  long runs = 1;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("-runs=", 0) == 0) {
      runs = std::max(1L, strtol(arg.c_str() + 6, nullptr, 10));
      continue;
    }
    if (arg[0] == '-') continue;
    std::filesystem::path p(arg);
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
    } else {
      files.push_back(p);
    }
  }
  std::sort(files.begin(), files.end());  // a stable order makes failures reproducible
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      fprintf(stderr, "cannot read %s\n", f.c_str());
      return 1;
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    fprintf(stderr, "Running %s (%zu bytes) %ld time(s)\n", f.c_str(), bytes.size(), runs);
    for (long r = 0; r < runs; ++r)
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  fprintf(stderr, "Ran %zu inputs\n", files.size());
  return files.empty() ? 1 : 0;
}
