// FUNCTION DUMP and FUNCTION RESTORE in Redis 7.0's payload format: for each library the RDB
// opcode FUNCTION2 (245) and its code as an RDB string, then the RDB version (10) in two
// bytes, little-endian, then the CRC64 (Jones, as Redis's crc64.c) of all that, little-endian.
// Redis compresses strings over 20 bytes with LZF; we write them plain (Redis reads both) and
// read both.
#include <array>
#include <cstring>
#include <string>

#include "omnibus/script/function_engine.h"

namespace omnibus {
namespace {

constexpr uint8_t kOpcodeFunction2 = 245;
constexpr uint8_t kOpcodeFunctionPreGa = 246;
constexpr uint16_t kRdbVersion = 10;

// Redis's crc64: the Jones polynomial, reflected, initial value 0, no final xor.
std::array<uint64_t, 256> MakeCrc64Table() {
  constexpr uint64_t kPolyReflected = 0x95ac9329ac4bc9b5ULL;
  std::array<uint64_t, 256> table{};
  for (uint64_t i = 0; i < 256; ++i) {
    uint64_t crc = i;
    for (int j = 0; j < 8; ++j) crc = (crc & 1) ? (crc >> 1) ^ kPolyReflected : crc >> 1;
    table[i] = crc;
  }
  return table;
}

void AppendLength(std::string* out, uint64_t len) {
  if (len < (1 << 6)) {
    out->push_back(static_cast<char>(len));
  } else if (len < (1 << 14)) {
    out->push_back(static_cast<char>(0x40 | (len >> 8)));
    out->push_back(static_cast<char>(len & 0xff));
  } else if (len <= UINT32_MAX) {
    out->push_back(static_cast<char>(0x80));
    for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(len >> shift));
  } else {
    out->push_back(static_cast<char>(0x81));
    for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(len >> shift));
  }
}

// Reads the RDB payload byte by byte, bounded by its end.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  size_t pos() const { return pos_; }
  bool Byte(uint8_t* b) {
    if (pos_ >= data_.size()) return false;
    *b = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (data_.size() - pos_ < n) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  // rdbLoadLen: the length, or (encoded) the encoding's number.
  bool Length(uint64_t* len, bool* encoded) {
    uint8_t b;
    if (!Byte(&b)) return false;
    *encoded = false;
    switch (b >> 6) {
      case 0:
        *len = b & 0x3f;
        return true;
      case 1: {
        uint8_t b2;
        if (!Byte(&b2)) return false;
        *len = (uint64_t{b & 0x3fu} << 8) | b2;
        return true;
      }
      case 3:
        *encoded = true;
        *len = b & 0x3f;
        return true;
      default: {
        int n = b == 0x80 ? 4 : b == 0x81 ? 8 : 0;
        if (n == 0) return false;
        std::string_view raw;
        if (!Bytes(static_cast<size_t>(n), &raw)) return false;
        uint64_t v = 0;
        for (char c : raw) v = (v << 8) | static_cast<uint8_t>(c);
        *len = v;
        return true;
      }
    }
  }
  // rdbGenericLoadStringObject.
  bool String(std::string* out) {
    uint64_t len;
    bool encoded;
    if (!Length(&len, &encoded)) return false;
    if (!encoded) {
      std::string_view raw;
      if (!Bytes(len, &raw)) return false;
      out->assign(raw);
      return true;
    }
    std::string_view raw;
    switch (len) {
      case 0:    // int8
      case 1:    // int16
      case 2: {  // int32
        size_t n = size_t{1} << len;
        if (!Bytes(n, &raw)) return false;
        uint32_t u = 0;
        for (size_t i = 0; i < n; ++i) u |= uint32_t{static_cast<uint8_t>(raw[i])} << (8 * i);
        int64_t v = n == 1   ? static_cast<int8_t>(u)
                    : n == 2 ? static_cast<int16_t>(u)
                             : static_cast<int32_t>(u);
        *out = std::to_string(v);
        return true;
      }
      case 3: {  // LZF
        uint64_t clen, ulen;
        bool e1, e2;
        if (!Length(&clen, &e1) || e1 || !Length(&ulen, &e2) || e2) return false;
        if (!Bytes(clen, &raw)) return false;
        return LzfDecompress(raw, ulen, out);
      }
      default:
        return false;
    }
  }

 private:
  // liblzf's lzf_decompress; false unless it yields exactly `ulen` bytes.
  static bool LzfDecompress(std::string_view in, uint64_t ulen, std::string* out) {
    if (ulen == 0 || ulen > (uint64_t{1} << 32)) return false;
    out->assign(ulen, '\0');
    size_t ip = 0, op = 0;
    while (ip < in.size()) {
      unsigned ctrl = static_cast<uint8_t>(in[ip++]);
      if (ctrl < (1 << 5)) {
        size_t n = ctrl + 1;
        if (op + n > ulen || ip + n > in.size()) return false;
        std::memcpy(out->data() + op, in.data() + ip, n);
        op += n;
        ip += n;
      } else {
        size_t n = ctrl >> 5;
        if (n == 7) {
          if (ip >= in.size()) return false;
          n += static_cast<uint8_t>(in[ip++]);
        }
        if (ip >= in.size()) return false;
        size_t back = ((ctrl & 0x1f) << 8) + static_cast<uint8_t>(in[ip++]) + 1;
        n += 2;
        if (back > op || op + n > ulen) return false;
        for (size_t i = 0; i < n; ++i, ++op) (*out)[op] = (*out)[op - back];
      }
    }
    return op == ulen;
  }

  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace

uint64_t FunctionEngine::Crc64(uint64_t crc, std::string_view data) {
  static const std::array<uint64_t, 256> kTable = MakeCrc64Table();
  for (char c : data) crc = kTable[(crc ^ static_cast<uint8_t>(c)) & 0xff] ^ (crc >> 8);
  return crc;
}

std::string FunctionEngine::Dump() const {
  std::string out;
  for (const auto& [name, lib] : live_.libraries) {
    out.push_back(static_cast<char>(kOpcodeFunction2));
    AppendLength(&out, lib->code.size());
    out.append(lib->code);
  }
  out.push_back(static_cast<char>(kRdbVersion & 0xff));
  out.push_back(static_cast<char>(kRdbVersion >> 8));
  uint64_t crc = Crc64(0, out);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(crc >> (8 * i)));
  return out;
}

bool FunctionEngine::Restore(std::string_view payload, RestorePolicy policy, std::string* error) {
  // Redis's verifyDumpPayload.
  bool valid = payload.size() >= 10;
  if (valid) {
    std::string_view footer = payload.substr(payload.size() - 10);
    uint16_t version = static_cast<uint16_t>(static_cast<uint8_t>(footer[0]) |
                                             (static_cast<uint8_t>(footer[1]) << 8));
    uint64_t crc = 0;
    for (int i = 7; i >= 0; --i) crc = (crc << 8) | static_cast<uint8_t>(footer[2 + i]);
    valid = version <= kRdbVersion && Crc64(0, payload.substr(0, payload.size() - 8)) == crc;
  }
  if (!valid) {
    *error = "ERR DUMP payload version or checksum are wrong";
    return false;
  }
  LibrarySet restored;
  Reader in(payload);
  bool ok = true;
  while (ok && payload.size() - in.pos() > 10) {
    uint8_t type;
    std::string code, name;
    if (!in.Byte(&type)) {
      *error = "ERR can not read data type";
      ok = false;
    } else if (type == kOpcodeFunctionPreGa) {
      // Redis 7.0's release candidates wrote name, engine, description and body apart;
      // Redis 7.0.15 still reads that and makes a library payload of it.
      std::string engine, desc, blob;
      uint64_t has_desc;
      bool encoded;
      if (!in.String(&name)) {
        *error = "ERR Failed loading library name";
      } else if (!in.String(&engine)) {
        *error = "ERR Failed loading engine name";
      } else if (!in.Length(&has_desc, &encoded)) {
        *error = "ERR Failed loading library description indicator";
      } else if (has_desc != 0 && !in.String(&desc)) {
        *error = "ERR Failed loading library description";
      } else if (!in.String(&blob)) {
        *error = "ERR Failed loading library blob";
      } else {
        code = "#!" + std::string(engine.c_str()) + " name=" + std::string(name.c_str()) + "\n" +
               std::string(blob.c_str());
        ok = LoadInto(&restored, code, /*replace=*/false, &name, error);
        continue;
      }
      ok = false;
    } else if (type != kOpcodeFunction2) {
      *error = "ERR given type is not a function";
      ok = false;
    } else if (!in.String(&code)) {
      *error = "ERR Failed loading library payload";
      ok = false;
    } else {
      ok = LoadInto(&restored, code, /*replace=*/false, &name, error);
    }
  }
  if (!ok) {
    Clear(&restored);
    Publish();
    return false;
  }
  if (policy == RestorePolicy::kFlush) {
    Clear(&live_);
    live_ = std::move(restored);
    Publish();
    return true;
  }
  // Redis's libraryJoin: all or nothing.
  std::vector<std::unique_ptr<Library>> replaced;
  for (const auto& [name, lib] : restored.libraries) {
    if (!live_.libraries.contains(name)) continue;
    if (policy != RestorePolicy::kReplace) {
      *error = "ERR Library " + name + " already exists";
      ok = false;
      break;
    }
    replaced.push_back(Unlink(&live_, name));
  }
  if (ok) {
    for (const auto& [lower, f] : restored.functions) {
      if (live_.functions.contains(lower)) {
        *error = "ERR Function " + f->name + " already exists";
        ok = false;
        break;
      }
    }
  }
  if (!ok) {
    for (auto& lib : replaced) Link(&live_, std::move(lib));
    Clear(&restored);
    Publish();
    return false;
  }
  for (auto& [name, lib] : restored.libraries) Link(&live_, std::move(lib));
  for (auto& lib : replaced) Free(std::move(lib));
  Publish();
  return true;
}

}  // namespace omnibus
