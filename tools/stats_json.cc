#include "tools/stats_json.h"

#include <x86intrin.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "vmm/exit_handler.h"

namespace kvpc {

namespace {

struct RangeInfo {
  std::string device;
  std::string space;
  uint64_t base;
  uint64_t length;
};

std::vector<RangeInfo> ranges_of(const Machine& machine, bool mmio) {
  std::vector<RangeInfo> out;
  if (mmio) {
    for (const auto& range : machine.mmio().ranges()) {
      out.push_back({std::string(range.device->name()), "mmio", range.base, range.length});
    }
  } else {
    for (const auto& range : machine.pio().ranges()) {
      out.push_back({std::string(range.device->name()), "pio", range.base, range.length});
    }
  }
  return out;
}

nlohmann::json reason_counts(const std::vector<const ExitStats*>& stats) {
  nlohmann::json exits = nlohmann::json::object();
  for (size_t reason = 0; reason < ExitStats::kReasons; ++reason) {
    uint64_t count = 0;
    for (const ExitStats* s : stats) count += s->by_reason[reason].get();
    if (count == 0) continue;
    std::string name = kvm_exit_reason_name(static_cast<uint32_t>(reason));
    if (name == "OTHER") name = fmt::format("REASON_{}", reason);
    exits[name] = count;
  }
  uint64_t unknown = 0;
  for (const ExitStats* s : stats) unknown += s->unknown_reason.get();
  if (unknown != 0) exits["UNKNOWN_REASON"] = unknown;
  return exits;
}

nlohmann::json counters(const std::vector<const ExitStats*>& stats) {
  auto sum = [&stats](auto member) {
    uint64_t total = 0;
    for (const ExitStats* s : stats) total += (s->*member).get();
    return total;
  };
  uint64_t total = 0;
  for (const ExitStats* s : stats) {
    for (const auto& counter : s->by_reason) total += counter.get();
    total += s->unknown_reason.get();
  }
  return {{"exits_total", total},
          {"pio_reads", sum(&ExitStats::pio_reads)},
          {"pio_writes", sum(&ExitStats::pio_writes)},
          {"mmio_reads", sum(&ExitStats::mmio_reads)},
          {"mmio_writes", sum(&ExitStats::mmio_writes)},
          {"unclaimed_pio", sum(&ExitStats::unclaimed_pio)},
          {"unclaimed_mmio", sum(&ExitStats::unclaimed_mmio)},
          {"interrupted", sum(&ExitStats::interrupted)}};
}

nlohmann::json device_rows(const Machine& machine, const std::vector<const ExitStats*>& stats, bool histogram) {
  nlohmann::json rows = nlohmann::json::array();
  const double hz = histogram ? tsc_hz() : 0;
  for (bool mmio : {false, true}) {
    const auto ranges = ranges_of(machine, mmio);
    for (size_t i = 0; i < ranges.size(); ++i) {
      const size_t slot = ExitStats::range_slot(i);
      uint64_t reads = 0, writes = 0, cycles = 0, timed = 0;
      std::array<uint64_t, DeviceExitStats::kTimeBuckets> buckets{};
      for (const ExitStats* s : stats) {
        const DeviceExitStats& d = mmio ? s->mmio_ranges[slot] : s->pio_ranges[slot];
        reads += d.reads.get();
        writes += d.writes.get();
        cycles += d.cycles_total.get();
        timed += d.timed.get();
        for (size_t b = 0; b < buckets.size(); ++b) buckets[b] += d.cycles_log2[b].get();
      }
      nlohmann::json row = {{"device", ranges[i].device}, {"space", ranges[i].space}, {"base", ranges[i].base},
                            {"length", ranges[i].length}, {"reads", reads},       {"writes", writes}};
      if (i >= ExitStats::kRanges - 1) row["shared_slot"] = true;  // ranges past the table share its last slot
      if (histogram) {
        nlohmann::json hist = nlohmann::json::array();
        for (size_t b = 0; b < buckets.size(); ++b) {
          if (buckets[b] == 0) continue;
          const uint64_t below = b + 1 < buckets.size() ? (uint64_t{1} << (b + 1)) : 0;
          nlohmann::json bucket = {{"cycles_from", uint64_t{1} << b}, {"count", buckets[b]}};
          if (below != 0) {
            bucket["cycles_below"] = below;
            if (hz > 0) bucket["ns_below"] = static_cast<double>(below) * 1e9 / hz;
          }
          hist.push_back(bucket);
        }
        row["time_cycles_total"] = cycles;
        row["time_samples"] = timed;  // the histogram covers these accesses (vmm/exit_stats.h: sampled)
        if (timed != 0 && hz > 0) {
          row["time_mean_ns"] = static_cast<double>(cycles) * 1e9 / hz / static_cast<double>(timed);
        }
        row["time_histogram"] = hist;
      }
      rows.push_back(row);
    }
  }
  return rows;
}

}  // namespace

double tsc_hz() {
  static const double hz = [] {
    const auto start = std::chrono::steady_clock::now();
    const uint64_t tsc_start = __rdtsc();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const uint64_t tsc_end = __rdtsc();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return seconds > 0 ? static_cast<double>(tsc_end - tsc_start) / seconds : 0.0;
  }();
  return hz;
}

nlohmann::json machine_stats_json(const Machine& machine) {
  std::vector<const ExitStats*> all;
  nlohmann::json vcpus = nlohmann::json::array();
  for (const auto& runner : machine.vcpus()) {
    const ExitStats* stats = &runner->stats();
    all.push_back(stats);
    nlohmann::json entry = counters({stats});
    entry["vcpu"] = runner->backend().index();
    entry["exits"] = reason_counts({stats});
    nlohmann::json devices = nlohmann::json::array();
    for (auto& row : device_rows(machine, {stats}, false)) {
      if (row["reads"].get<uint64_t>() + row["writes"].get<uint64_t>() != 0) devices.push_back(row);
    }
    entry["devices"] = devices;
    vcpus.push_back(entry);
  }
  nlohmann::json vm = counters(all);
  vm["exits"] = reason_counts(all);
  vm["devices"] = device_rows(machine, all, true);
  return {{"tsc_hz", tsc_hz()}, {"vcpus", vcpus}, {"total", vm}};
}

}  // namespace kvpc
