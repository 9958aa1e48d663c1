// s2r_native: the whole on-device path in C++, as a mobile app would run it.
// A 16 kHz mono WAV is streamed chunk by chunk through the exported encoder (.pte, ExecuTorch runtime with the
// XNNPACK delegate), carrying its state tensors; the final query vector is searched in the hnswlib index whose
// manifest and checksums are verified first. Prints JSON: hits, per-chunk latency, end-of-speech -> hits, peak RSS.
//
//   s2r_native --model M.pte --index DIR --audio Q.wav [-k N] [--threads N]
//
// Any bad input (missing/corrupt file, model and index that disagree, unsupported WAV) -> one line on stderr, exit 1.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor.h>
#include <executorch/runtime/platform/runtime.h>
#include <hnswlib/hnswlib.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

// The wheel ships the thread pool library but not its header; these are the two entry points it exports
// (executorch/extension/threadpool/threadpool.h in the ExecuTorch sources).
namespace executorch::extension::threadpool {
class ThreadPool {
 public:
  size_t get_thread_count() const;
  bool _unsafe_reset_threadpool(uint32_t num_threads);
};
ThreadPool* get_threadpool();
}  // namespace executorch::extension::threadpool

using executorch::extension::Module;
using executorch::runtime::EValue;
using executorch::runtime::Program;
using json = nlohmann::json;

namespace {

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Args {
  std::string model, index, audio;
  int k = 10;
  int threads = 1;
};

const char* kUsage = "usage: s2r_native --model M.pte --index DIR --audio Q.wav [-k N] [--threads N]";

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::cout << kUsage << "\n";
      std::exit(0);
    }
    if (i + 1 >= argc) throw Failure(flag + " needs a value; " + kUsage);
    std::string value = argv[++i];
    if (flag == "--model") {
      a.model = value;
    } else if (flag == "--index") {
      a.index = value;
    } else if (flag == "--audio") {
      a.audio = value;
    } else if (flag == "-k" || flag == "--threads") {
      int n = 0;
      try {
        n = std::stoi(value);
      } catch (const std::exception&) {
        throw Failure(flag + " must be a whole number, got '" + value + "'");
      }
      if (n < 1) throw Failure(flag + " must be at least 1, got " + value);
      (flag == "-k" ? a.k : a.threads) = n;
    } else {
      throw Failure("unknown option " + flag + "; " + kUsage);
    }
  }
  if (a.model.empty() || a.index.empty() || a.audio.empty()) throw Failure(std::string("missing arguments; ") + kUsage);
  return a;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Failure(path + ": cannot open (missing or unreadable)");
  f.seekg(0, std::ios::end);
  std::streamoff size = f.tellg();
  if (size < 0) throw Failure(path + ": cannot be read (not a regular file?)");
  std::string data(static_cast<size_t>(size), '\0');  // read straight into place: no second copy
  f.seekg(0);
  if (!f.read(data.data(), data.size())) throw Failure(path + ": cannot be read");
  return data;
}

// sha256 of a file read in 1 MiB blocks, so the graph (170 MB at 100k docs) is never held twice.
std::string sha256_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Failure(path + ": cannot open (missing or unreadable)");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || !EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr)) throw Failure("sha256 failed");
  std::vector<char> block(1 << 20);
  while (f.read(block.data(), block.size()) || f.gcount() > 0)
    if (!EVP_DigestUpdate(ctx.get(), block.data(), f.gcount())) throw Failure("sha256 failed");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!EVP_DigestFinal_ex(ctx.get(), digest, &len)) throw Failure("sha256 failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += {hex[digest[i] >> 4], hex[digest[i] & 15]};
  return out;
}

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// ---- audio: 16 kHz mono WAV (PCM 16-bit or float 32-bit) -> float samples in [-1, 1] ----

uint32_t le32(const std::string& b, size_t at) {
  return uint8_t(b[at]) | uint8_t(b[at + 1]) << 8 | uint8_t(b[at + 2]) << 16 | uint32_t(uint8_t(b[at + 3])) << 24;
}
uint16_t le16(const std::string& b, size_t at) { return uint8_t(b[at]) | uint8_t(b[at + 1]) << 8; }

std::vector<float> read_wav(const std::string& path, int want_rate) {
  std::string b = read_file(path);
  if (b.size() < 12 || b.compare(0, 4, "RIFF") || b.compare(8, 4, "WAVE"))
    throw Failure(path + ": not a WAV file; convert it to 16 kHz mono WAV (e.g. sox in.mp3 -r 16000 -c 1 out.wav)");
  uint16_t format = 0, channels = 0, bits = 0;
  uint32_t rate = 0;
  for (size_t at = 12; at + 8 <= b.size();) {
    std::string id = b.substr(at, 4);
    size_t size = le32(b, at + 4), body = at + 8;
    if (body + size > b.size()) size = b.size() - body;  // tolerate a data chunk cut short
    if (id == "fmt " && size >= 16) {
      format = le16(b, body);
      channels = le16(b, body + 2);
      rate = le32(b, body + 4);
      bits = le16(b, body + 14);
      if (format == 0xFFFE && size >= 26) format = le16(b, body + 24);  // WAVE_FORMAT_EXTENSIBLE sub-format
    } else if (id == "data") {
      if (!format) throw Failure(path + ": WAV data comes before its fmt chunk");
      if (channels != 1 || int(rate) != want_rate)
        throw Failure(path + ": WAV is " + std::to_string(channels) + " channel(s) at " + std::to_string(rate) +
                      " Hz; the native runner takes " + std::to_string(want_rate) +
                      " Hz mono (sox in.wav -r 16000 -c 1 out.wav)");
      std::vector<float> out;
      if (format == 1 && bits == 16) {
        for (size_t i = 0; i + 2 <= size; i += 2) out.push_back(int16_t(le16(b, body + i)) / 32768.0f);
      } else if (format == 3 && bits == 32) {
        out.resize(size / 4);
        std::memcpy(out.data(), b.data() + body, out.size() * 4);
      } else {
        throw Failure(path + ": WAV sample format " + std::to_string(format) + "/" + std::to_string(bits) +
                      " bit is not supported; use 16-bit PCM or 32-bit float");
      }
      if (out.empty()) throw Failure(path + ": the WAV holds no samples");
      for (float x : out)
        if (!std::isfinite(x)) throw Failure(path + ": the WAV contains NaN or infinite samples");
      return out;
    }
    at = body + size + (size & 1);
  }
  throw Failure(path + ": WAV has no data chunk");
}

// ---- the index directory: manifest (verified), docs, hnswlib graph ----

struct Index {
  json manifest;
  std::string docs_text;                    // docs.jsonl as verified; a hit's doc is parsed from its line
  std::vector<std::pair<size_t, size_t>> doc_lines;  // (offset, length) of each doc's line, in label order
  std::unique_ptr<hnswlib::InnerProductSpace> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
  int dim = 0;
  std::string teacher;
};

Index load_index(const std::string& dir) {
  Index ix;
  std::string manifest_path = dir + "/manifest.json";
  try {
    ix.manifest = json::parse(read_file(manifest_path));
    ix.dim = ix.manifest.at("dim").get<int>();
    ix.teacher = ix.manifest.at("teacher").get<std::string>();
    ix.manifest.at("count").get<size_t>();
    ix.manifest.at("hnsw").at("ef_search").get<int>();
    // v3 adds codes.npz for the Python runtime's compact search; index.hnsw is the same full-vector graph as v1.
    int version = ix.manifest.at("format_version").get<int>();
    if (ix.manifest.at("format") != "s2r-edge-index" || (version != 1 && version != 3))
      throw Failure(manifest_path + ": not format s2r-edge-index v1 or v3; rebuild the index with `s2r-edge index build`");
  } catch (const json::exception& e) {
    throw Failure(manifest_path + ": corrupt or incomplete (" + e.what() + "); rebuild the index");
  }
  for (const char* name : {"index.hnsw", "docs.jsonl"}) {
    std::string path = dir + "/" + name;
    if (sha256_file(path) != ix.manifest["files"].value(name, ""))
      throw Failure(path + ": changed since the index was built (sha256 mismatch); rebuild the index");
  }
  // Docs stay as text (a parsed json object per doc would cost several times the file's size in RAM).
  ix.docs_text = read_file(dir + "/docs.jsonl");
  std::string_view text(ix.docs_text);
  for (size_t at = 0; at < text.size();) {
    size_t end = std::min(text.find('\n', at), text.size());
    std::string_view line = text.substr(at, end - at);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
      if (!json::accept(line)) throw Failure(dir + "/docs.jsonl: line " + std::to_string(ix.doc_lines.size() + 1) +
                                             " is not valid JSON; rebuild the index");
      ix.doc_lines.emplace_back(at, line.size());
    }
    at = end + 1;
  }
  if (ix.doc_lines.size() != ix.manifest["count"].get<size_t>())
    throw Failure(dir + ": manifest counts " + ix.manifest["count"].dump() + " docs, docs.jsonl has " +
                  std::to_string(ix.doc_lines.size()));
  ix.space = std::make_unique<hnswlib::InnerProductSpace>(ix.dim);
  try {
    ix.graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(ix.space.get(), dir + "/index.hnsw", false,
                                                                 ix.doc_lines.size());
  } catch (const std::exception& e) {
    throw Failure(dir + "/index.hnsw: cannot be read by hnswlib (" + e.what() + "); rebuild the index");
  }
  if (ix.graph->cur_element_count != ix.doc_lines.size())
    throw Failure(dir + "/index.hnsw: holds " + std::to_string(ix.graph->cur_element_count) + " vectors for " +
                  std::to_string(ix.doc_lines.size()) + " docs");
  return ix;
}

json search(Index& ix, const std::vector<float>& query, int k) {
  k = std::min<int>(k, ix.doc_lines.size());
  ix.graph->setEf(std::max(k, ix.manifest["hnsw"]["ef_search"].get<int>()));
  auto heap = ix.graph->searchKnn(query.data(), k);  // farthest on top
  std::vector<std::pair<float, size_t>> found;
  for (; !heap.empty(); heap.pop()) found.emplace_back(heap.top().first, heap.top().second);
  json hits = json::array();
  for (auto it = found.rbegin(); it != found.rend(); ++it) {
    const auto& [at, size] = ix.doc_lines.at(it->second);
    json hit = json::parse(std::string_view(ix.docs_text).substr(at, size));
    hit["score"] = std::round((1.0 - it->first) * 1e6) / 1e6;  // ip space stores 1 - dot
    hits.push_back(hit);
  }
  return hits;
}

// ---- the encoder: a verified .pte with metadata methods and a streaming `forward` ----

struct Encoder {
  std::unique_ptr<Module> module;
  int sample_rate = 0, chunk_samples = 0, emb_dim = 0;
  std::string model_version, teacher;
  std::vector<std::vector<executorch::aten::SizesType>> state_shapes;
};

EValue constant(Module& m, const std::string& path, const std::string& name) {
  auto out = m.execute(name);
  if (!out.ok() || out->empty())
    throw Failure(path + ": method '" + name + "' failed (error " + std::to_string(int(out.error())) +
                  "); not an s2r-edge encoder, re-export it");
  return (*out)[0];
}

int constant_int(Module& m, const std::string& path, const std::string& name) {
  EValue v = constant(m, path, name);
  if (!v.isInt()) throw Failure(path + ": method '" + name + "' does not return an integer; re-export it");
  return int(v.toInt());
}

std::string constant_str(Module& m, const std::string& path, const std::string& name) {
  EValue v = constant(m, path, name);  // strings are baked in as uint8 tensors of their UTF-8 bytes
  if (!v.isTensor()) throw Failure(path + ": method '" + name + "' does not return a byte tensor; re-export it");
  const auto& t = v.toTensor();
  return std::string(t.const_data_ptr<char>(), t.nbytes());
}

Encoder load_encoder(const std::string& path) {
  std::ifstream probe(path, std::ios::binary);
  if (!probe) throw Failure(path + ": no such model file; export one with `s2r-edge export`");
  Encoder enc;
  enc.module = std::make_unique<Module>(path, Module::LoadMode::File);
  auto err = enc.module->load(Program::Verification::InternalConsistency);
  if (err != executorch::runtime::Error::Ok)
    throw Failure(path + ": not a valid ExecuTorch program (load error " + std::to_string(int(err)) +
                  "); re-export or re-download it");
  auto names = enc.module->method_names();
  if (!names.ok()) throw Failure(path + ": cannot list the program's methods; re-export it");
  for (const char* m : {"forward", "sample_rate", "chunk_samples", "emb_dim", "model_version", "teacher"})
    if (!names->count(m)) throw Failure(path + ": not an s2r-edge encoder (no method " + m + "); re-export it");
  enc.sample_rate = constant_int(*enc.module, path, "sample_rate");
  enc.chunk_samples = constant_int(*enc.module, path, "chunk_samples");
  enc.emb_dim = constant_int(*enc.module, path, "emb_dim");
  enc.model_version = constant_str(*enc.module, path, "model_version");
  enc.teacher = constant_str(*enc.module, path, "teacher");
  auto meta = enc.module->method_meta("forward");
  if (!meta.ok()) throw Failure(path + ": no metadata for 'forward'; re-export it");
  for (size_t i = 1; i < meta->num_inputs(); ++i) {
    auto tm = meta->input_tensor_meta(i);
    if (!tm.ok()) throw Failure(path + ": input " + std::to_string(i) + " of 'forward' is not a tensor");
    enc.state_shapes.emplace_back(tm->sizes().begin(), tm->sizes().end());
  }
  if (enc.module->load_method("forward") != executorch::runtime::Error::Ok)
    throw Failure(path + ": 'forward' cannot be loaded (a delegate or operator is missing); re-export it");
  return enc;
}

size_t numel(const std::vector<executorch::aten::SizesType>& shape) {
  size_t n = 1;
  for (auto s : shape) n *= size_t(s);
  return n;
}

// The runtime's own log: keep its errors (they say why a program was refused), drop the start-up chatter.
void log_errors_only(et_timestamp_t, et_pal_log_level_t level, const char*, const char*, size_t, const char* message,
                     size_t length) {
  if (level == kError || level == kFatal) std::cerr << "s2r_native: executorch: " << std::string(message, length) << "\n";
}

// Peak resident memory of this process in MB. VmHWM belongs to the process image, where getrusage's ru_maxrss
// also counts the parent's memory at fork time when a large process (a Python benchmark) starts this one.
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  double pos = q * (v.size() - 1);
  size_t lo = size_t(pos), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

int run(const Args& args) {
  using executorch::extension::make_tensor_ptr;
  auto* pool = executorch::extension::threadpool::get_threadpool();
  if (pool && pool->get_thread_count() != size_t(args.threads)) pool->_unsafe_reset_threadpool(args.threads);

  double t0 = now_ms();
  Encoder enc = load_encoder(args.model);
  Index ix = load_index(args.index);
  if (enc.emb_dim != ix.dim || enc.teacher != ix.teacher)
    throw Failure("model " + args.model + " embeds " + std::to_string(enc.emb_dim) + "-d vectors of teacher '" +
                  enc.teacher + "', but the index holds " + std::to_string(ix.dim) + "-d vectors of teacher '" +
                  ix.teacher + "'; rebuild the index or pick the matching model");
  double load_ms = now_ms() - t0;
  std::vector<float> audio = read_wav(args.audio, enc.sample_rate);

  // Zero state, then one step per chunk; the tail is zero-padded to a full chunk (as Stream.finish does).
  std::vector<std::vector<float>> state;
  for (const auto& shape : enc.state_shapes) state.emplace_back(numel(shape), 0.0f);
  const size_t n = enc.chunk_samples;
  size_t n_chunks = std::max<size_t>(1, (audio.size() + n - 1) / n);
  audio.resize(n_chunks * n, 0.0f);
  std::vector<float> embedding;
  std::vector<double> chunk_ms;
  for (size_t c = 0; c < n_chunks; ++c) {
    double start = now_ms();
    std::vector<EValue> inputs;
    std::vector<executorch::extension::TensorPtr> keep;  // the tensors must outlive execute()
    keep.push_back(make_tensor_ptr({1, executorch::aten::SizesType(n)}, audio.data() + c * n));
    for (size_t i = 0; i < state.size(); ++i) keep.push_back(make_tensor_ptr(enc.state_shapes[i], state[i].data()));
    for (auto& t : keep) inputs.emplace_back(*t);
    auto out = enc.module->forward(inputs);
    if (!out.ok() || out->size() != state.size() + 1)
      throw Failure(args.model + ": 'forward' failed on chunk " + std::to_string(c) + " (error " +
                    std::to_string(int(out.error())) + ")");
    const auto& emb = (*out)[0].toTensor();
    embedding.assign(emb.const_data_ptr<float>(), emb.const_data_ptr<float>() + emb.numel());
    for (size_t i = 0; i < state.size(); ++i) {  // copy out: the outputs live in the method's planned memory
      const auto& s = (*out)[i + 1].toTensor();
      std::copy(s.const_data_ptr<float>(), s.const_data_ptr<float>() + s.numel(), state[i].begin());
    }
    chunk_ms.push_back(now_ms() - start);
  }
  double search_start = now_ms();
  json hits = search(ix, embedding, args.k);
  double end_to_hits_ms = chunk_ms.back() + (now_ms() - search_start);

  json report = {
      {"hits", hits},
      {"chunks", n_chunks},
      {"chunk_ms", chunk_ms},
      {"chunk_ms_p50", percentile(chunk_ms, 0.5)},
      {"chunk_ms_p90", percentile(chunk_ms, 0.9)},
      {"end_to_hits_ms", end_to_hits_ms},
      {"load_ms", load_ms},
      {"peak_rss_mb", peak_rss_mb()},
      {"threads", args.threads},
      {"model", {{"sample_rate", enc.sample_rate}, {"chunk_samples", enc.chunk_samples}, {"emb_dim", enc.emb_dim},
                 {"model_version", enc.model_version}, {"teacher", enc.teacher}}},
  };
  std::cout << report.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  executorch::runtime::register_pal(executorch::runtime::PalImpl::create(log_errors_only, __FILE__));
  executorch::runtime::runtime_init();
  try {
    return run(parse_args(argc, argv));
  } catch (const Failure& e) {
    std::cerr << "s2r_native: error: " << e.what() << "\n";
  } catch (const std::exception& e) {  // e.g. a malformed docs.jsonl line
    std::cerr << "s2r_native: error: " << e.what() << "\n";
  }
  return 1;
}
