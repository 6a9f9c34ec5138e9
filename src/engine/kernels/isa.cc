// ISA detection and the EDGEROUTE_FORCE_ISA override. Plain C++ only: this
// file is compiled for the baseline ISA and runs before any dispatch.
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edgeroute/common/error.h"
#include "edgeroute/engine/kernels.h"
#include "kernels_internal.h"

namespace edgeroute::engine {
namespace {

struct CpuidRegs {
  std::uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

CpuidRegs cpuid(std::uint32_t leaf, std::uint32_t subleaf) {
  CpuidRegs r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

// XCR0 says which register state the OS saves on a context switch; a CPU
// feature is usable only if the OS saves its registers too.
std::uint64_t read_xcr0() {
  std::uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

constexpr bool bit(std::uint32_t v, int b) { return ((v >> b) & 1u) != 0; }

// Linux enables the AMX tile data state (8 KB per thread) only for a process
// that asks: arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA). Granted
// once for the whole process; a kernel without the call (before 5.16) or a
// refusal leaves the tiles unusable, and detection stops at AVX-512.
bool request_amx_permission() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

Isa detect_uncached() {
  const std::uint32_t max_leaf = cpuid(0, 0).eax;
  if (max_leaf < 7) return Isa::kScalar;
  const CpuidRegs l1 = cpuid(1, 0);
  const bool osxsave = bit(l1.ecx, 27);
  if (!osxsave) return Isa::kScalar;  // xgetbv would fault
  const std::uint64_t xcr0 = read_xcr0();
  constexpr std::uint64_t kXcr0Avx = (1u << 1) | (1u << 2);                 // SSE, AVX (YMM upper) state
  constexpr std::uint64_t kXcr0Avx512 = (1u << 5) | (1u << 6) | (1u << 7);  // opmask, ZMM_Hi256, Hi16_ZMM
  const bool os_avx = (xcr0 & kXcr0Avx) == kXcr0Avx;
  const bool os_avx512 = os_avx && (xcr0 & kXcr0Avx512) == kXcr0Avx512;

  const CpuidRegs l7 = cpuid(7, 0);
  const bool avx = bit(l1.ecx, 28), fma = bit(l1.ecx, 12), f16c = bit(l1.ecx, 29);
  const bool avx2 = bit(l7.ebx, 5);
  const bool avx512f = bit(l7.ebx, 16), avx512dq = bit(l7.ebx, 17), avx512bw = bit(l7.ebx, 30),
             avx512vl = bit(l7.ebx, 31), avx512vnni = bit(l7.ecx, 11);

  // The AVX2 translation unit is compiled with -mavx2 -mfma -mf16c, so all
  // three are required; the AVX-512 one also uses AVX2-level instructions.
  const bool has_avx2 = os_avx && avx && avx2 && fma && f16c;
  if (!has_avx2) return Isa::kScalar;
  const bool has_avx512vnni = os_avx512 && avx512f && avx512dq && avx512bw && avx512vl && avx512vnni;
  if (!has_avx512vnni) return Isa::kAvx2;
  constexpr std::uint64_t kXcr0Amx = (std::uint64_t{1} << 17) | (std::uint64_t{1} << 18);  // XTILECFG, XTILEDATA
  const bool amx_tile = bit(l7.edx, 24), amx_int8 = bit(l7.edx, 25);
  const bool has_amx = amx_tile && amx_int8 && (xcr0 & kXcr0Amx) == kXcr0Amx && request_amx_permission();
  return has_amx ? Isa::kAmx : Isa::kAvx512Vnni;
}

}  // namespace

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512Vnni:
      return "avx512vnni";
    case Isa::kAmx:
      return "amx";
  }
  return "unknown";
}

Isa detect_isa() {
  static const Isa detected = detect_uncached();
  return detected;
}

bool isa_supported(Isa isa) { return static_cast<int>(isa) <= static_cast<int>(detect_isa()); }

Isa parse_isa_override(std::string_view value, Isa detected) {
  Isa wanted{};
  if (value == "scalar") {
    wanted = Isa::kScalar;
  } else if (value == "avx2") {
    wanted = Isa::kAvx2;
  } else if (value == "avx512vnni") {
    wanted = Isa::kAvx512Vnni;
  } else if (value == "amx") {
    wanted = Isa::kAmx;
  } else {
    throw Error("EDGEROUTE_FORCE_ISA='" + std::string(value) +
                "' is not a known ISA; use scalar, avx2, avx512vnni or amx");
  }
  if (static_cast<int>(wanted) > static_cast<int>(detected)) {
    throw Error("EDGEROUTE_FORCE_ISA=" + std::string(value) +
                " is not supported by this CPU and OS (best available: " + std::string(isa_name(detected)) + ")");
  }
  return wanted;
}

Isa active_isa() {
  static const Isa active = [] {
    const char* forced = std::getenv("EDGEROUTE_FORCE_ISA");
    if (forced == nullptr || *forced == '\0') return detect_isa();
    return parse_isa_override(forced, detect_isa());
  }();
  return active;
}

}  // namespace edgeroute::engine
