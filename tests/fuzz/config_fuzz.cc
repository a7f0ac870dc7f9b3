// libFuzzer target for the config loader. The input is a redis.conf-style text:
// - LoadConfigText must never crash, and fail only with Redis's FATAL CONFIG FILE ERROR text;
// - on success, every parameter is rendered back with its ConfigParams() get() into a new
//   config text, which must load and give the same values again (a round trip);
// - the same bytes, cut at newlines into argv, go through LoadConfigFromArgs (the
//   command-line path, which quotes and appends arguments) with the same round trip;
// - ParseMemory must agree with its own output on every word of the input.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "omnibus/base/str_cat.h"
#include "omnibus/server/config.h"

namespace omnibus {
namespace {

[[noreturn]] void Fail(const std::string& what) {
  fprintf(stderr, "config_fuzz: %s\n", what.c_str());
  __builtin_trap();
}

// A double-quoted argument that SplitInlineArgs turns back into exactly `s`.
std::string Quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out + "\"";
}

// Renders `c` as a config text: one line per parameter with the value get() reports.
// "bind" is the exception: get() joins the addresses with spaces (as CONFIG GET does) and the
// loader joins a line's arguments and splits them again, so each address is quoted twice
// (once for the line, once for the re-split) to survive any byte in it.
std::string Render(const Config& c) {
  std::string text;
  for (const ConfigParam& p : ConfigParams()) {
    if (p.name == "bind") {
      text += "bind";
      for (const std::string& addr : c.bind) text += " " + Quote(Quote(addr));
      text += "\n";
    } else {
      text += StrCat(p.name, " ", Quote(p.get(c)), "\n");
    }
  }
  for (const auto& [from, to] : c.renames) {
    text += StrCat("rename-command ", Quote(from), " ", Quote(to), "\n");
  }
  return text;
}

void CheckError(const std::string& error) {
  static const std::string kPrefix = "\n*** FATAL CONFIG FILE ERROR (Redis ";
  if (error.rfind(kPrefix, 0) != 0) Fail("error without the FATAL CONFIG FILE ERROR header");
}

void CheckRoundTrip(const Config& loaded) {
  std::string text = Render(loaded);
  Config again;
  std::string error;
  if (!LoadConfigText(text, &again, &error)) {
    Fail(StrCat("rendered config does not load:\n", text, "error:", error));
  }
  for (const ConfigParam& p : ConfigParams()) {
    if (p.get(loaded) != p.get(again)) {
      Fail(StrCat("round trip changed ", p.name, ": '", p.get(loaded), "' became '", p.get(again),
                  "'\nrendered:\n", text));
    }
  }
  if (loaded.bind != again.bind) Fail(StrCat("round trip changed bind\nrendered:\n", text));
  if (loaded.renames != again.renames) Fail("round trip changed the renames");
}

void CheckParseMemory(std::string_view word) {
  int64_t v;
  if (!ParseMemory(word, &v)) return;
  if (v < 0) Fail(StrCat("ParseMemory('", word, "') is negative: ", v));
  int64_t w;
  if (!ParseMemory(StrCat(v), &w) || w != v) Fail(StrCat("ParseMemory('", v, "') changed it"));
}

}  // namespace
}  // namespace omnibus

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omnibus;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  Config config;
  std::string error;
  if (LoadConfigText(text, &config, &error)) {
    CheckRoundTrip(config);
  } else {
    CheckError(error);
  }

  // The command line: one argument per line of the input. The first must start with '-', or
  // it would be taken for a config file's path and opened.
  std::vector<std::string> args = {"omnibus-server"};
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    args.emplace_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  if (args[1].empty() || args[1][0] != '-') args[1].insert(0, "--");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());  // NUL-terminated by std::string
  argv.push_back(nullptr);
  Config from_args;
  error.clear();
  if (LoadConfigFromArgs(static_cast<int>(args.size()), argv.data(), &from_args, &error)) {
    CheckRoundTrip(from_args);
  } else {
    CheckError(error);
  }

  // Memory values, word by word ("64mb", "1gb", "-1", ...).
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ' ' || text[i] == '\n') {
      CheckParseMemory(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return 0;
}
