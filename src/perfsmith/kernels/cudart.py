"""A small ctypes binding to the CUDA runtime (``libcudart.so``), for running kernels.

perfsmith needs only a handful of runtime calls to run a compiled CUDA kernel and time it:
device memory, copies, memsets, events and device attributes. Binding them with ctypes
keeps the GPU path free of any Python CUDA package, so it runs wherever NumPy and a CUDA
runtime are installed. Device properties are read with ``cudaDeviceGetAttribute``, never
from ``struct cudaDeviceProp``, whose layout changes between CUDA versions (only the name,
its first field, is read from the struct).

Every failing call raises ``CudaError`` naming the call, the error's name and
``cudaGetErrorString``; ``Runtime.device_count`` raises ``NoGpu`` when there is no driver
or no device, which callers turn into a one-paragraph "no GPU here" message.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from perfsmith.errors import ConfigError, PerfsmithError
from perfsmith.kernels.cuda import find_cudart

__all__ = [
    "CudaError",
    "DeviceArray",
    "GpuSpec",
    "NoGpu",
    "Runtime",
    "gpu_spec",
    "peak_bandwidth",
    "spec_from_attributes",
    "version_text",
]

# cudaError_t values the binding treats specially (driver_types.h).
SUCCESS = 0
ERROR_NOT_READY = 600
ERROR_INSUFFICIENT_DRIVER = 35
ERROR_NO_DEVICE = 100
NO_GPU_ERRORS = frozenset({ERROR_INSUFFICIENT_DRIVER, ERROR_NO_DEVICE})
MEMCPY_HOST_TO_DEVICE = 1
MEMCPY_DEVICE_TO_HOST = 2
MEMCPY_DEVICE_TO_DEVICE = 3
# cudaDeviceAttr values (driver_types.h; stable since CUDA 5).
ATTRIBUTES: dict[str, int] = {
    "clock_khz": 13,
    "sm_count": 16,
    "memory_clock_khz": 36,
    "memory_bus_bits": 37,
    "l2_bytes": 38,
    "max_threads_per_sm": 39,
    "cc_major": 75,
    "cc_minor": 76,
    "shared_memory_per_sm": 81,
}
PROPS_BUFFER = 8192  # larger than any cudaDeviceProp so far (about 1 KiB)
NAME_BYTES = 256  # cudaDeviceProp.name, the struct's first field in every version
NO_GPU_HINT = (
    "Run this on a machine with an NVIDIA GPU and its driver (nvidia-smi lists the GPU); "
    "without one, CUDA kernels can only be compiled (e.g. gpu_check.py --compile-only)."
)


class CudaError(PerfsmithError):
    """A CUDA runtime call failed (the message names the call and the runtime's error)."""

    def __init__(self, message: str, hint: str = "", code: int = -1) -> None:
        super().__init__(message, hint)
        self.code = code


class NoGpu(CudaError):
    """There is no usable GPU: no NVIDIA driver, no device, or a driver too old."""


def version_text(version: int) -> str:
    """A CUDA version number as text: ``13050`` -> ``"13.5"``, ``12040`` -> ``"12.4"``.

    ``0`` (what ``cudaDriverGetVersion`` reports without a driver) gives ``"none"``.
    """
    if version <= 0:
        return "none"
    return f"{version // 1000}.{(version % 1000) // 10}"


def peak_bandwidth(memory_clock_khz: int, bus_width_bits: int) -> float:
    """Theoretical DRAM bandwidth in bytes/s: two transfers per memory clock (DDR) times
    the bus width; e.g. an H100 SXM's 2619 MHz and 5120 bits give 3.35e12. 0 when either
    is unknown."""
    if memory_clock_khz <= 0 or bus_width_bits <= 0:
        return 0.0
    return 2.0 * memory_clock_khz * 1e3 * bus_width_bits / 8.0


class Runtime:
    """The CUDA runtime library, loaded once (``RTLD_GLOBAL``) so that kernel libraries
    linked against ``libcudart.so.N`` share it.

    Args:
        path: the library (default: ``kernels.cuda.find_cudart()``).

    Raises:
        ConfigError: no CUDA runtime library is found or it cannot be loaded.
    """

    def __init__(self, path: Path | None = None) -> None:
        found = path if path is not None else find_cudart()
        if found is None:
            raise ConfigError(
                "No CUDA runtime library (libcudart.so) was found.",
                "Install it with pip install 'perfsmith[cuda]' (nvidia-cuda-runtime), install "
                "the CUDA toolkit, or set CUDART to the library's path.",
            )
        try:
            self.lib: Any = ctypes.CDLL(str(found), mode=os.RTLD_GLOBAL)
        except OSError as exc:
            raise ConfigError(f"Cannot load the CUDA runtime {found}: {exc}.", "") from exc
        self.path = Path(found)
        lib = self.lib
        lib.cudaGetErrorString.restype = ctypes.c_char_p
        lib.cudaGetErrorString.argtypes = [ctypes.c_int]
        lib.cudaGetErrorName.restype = ctypes.c_char_p
        lib.cudaGetErrorName.argtypes = [ctypes.c_int]
        lib.cudaMalloc.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t]
        lib.cudaFree.argtypes = [ctypes.c_void_p]
        lib.cudaMemcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        lib.cudaMemset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
        lib.cudaEventCreate.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        lib.cudaEventRecord.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.cudaEventSynchronize.argtypes = [ctypes.c_void_p]
        lib.cudaEventDestroy.argtypes = [ctypes.c_void_p]
        lib.cudaEventElapsedTime.argtypes = [
            ctypes.POINTER(ctypes.c_float),
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.cudaDeviceGetAttribute.argtypes = [
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_int,
            ctypes.c_int,
        ]
        lib.cudaDeviceGetPCIBusId.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
        lib.cudaMemGetInfo.argtypes = [
            ctypes.POINTER(ctypes.c_size_t),
            ctypes.POINTER(ctypes.c_size_t),
        ]

    # -- errors ---------------------------------------------------------------------------

    def error_name(self, code: int) -> str:
        """``cudaGetErrorName``, e.g. ``cudaErrorNoDevice``."""
        name = self.lib.cudaGetErrorName(code)
        return name.decode() if name else f"cudaError {code}"

    def error_string(self, code: int) -> str:
        """``cudaGetErrorString``, e.g. ``no CUDA-capable device is detected``."""
        text = self.lib.cudaGetErrorString(code)
        return text.decode() if text else "unknown error"

    def error(self, call: str, code: int) -> CudaError:
        """The error for a failed call: ``cudaMalloc failed: cudaErrorMemoryAllocation (2):
        out of memory``."""
        return CudaError(
            f"{call} failed: {self.error_name(code)} ({code}): {self.error_string(code)}.",
            "",
            code,
        )

    def check(self, call: str, code: int) -> None:
        """Raise ``error(call, code)`` unless ``code`` is success."""
        if code != SUCCESS:
            raise self.error(call, code)

    def last_error(self) -> int:
        """``cudaGetLastError``: the last error of this thread's runtime calls and launches,
        which it clears (a sticky error, e.g. an illegal address, stays)."""
        return int(self.lib.cudaGetLastError())

    # -- versions and devices -------------------------------------------------------------

    def runtime_version(self) -> int:
        """``cudaRuntimeGetVersion``, e.g. 13050."""
        value = ctypes.c_int()
        self.check("cudaRuntimeGetVersion", self.lib.cudaRuntimeGetVersion(ctypes.byref(value)))
        return value.value

    def driver_version(self) -> int:
        """``cudaDriverGetVersion``: the newest CUDA the driver supports; 0 without a driver."""
        value = ctypes.c_int()
        self.check("cudaDriverGetVersion", self.lib.cudaDriverGetVersion(ctypes.byref(value)))
        return value.value

    def device_count(self) -> int:
        """``cudaGetDeviceCount``.

        Raises:
            NoGpu: no driver, no device (``cudaErrorNoDevice``), a driver older than the
                runtime (``cudaErrorInsufficientDriver``), or a count of 0.
            CudaError: any other failure.
        """
        count = ctypes.c_int(0)
        code = int(self.lib.cudaGetDeviceCount(ctypes.byref(count)))
        if code in NO_GPU_ERRORS or (code == SUCCESS and count.value == 0):
            driver = self.driver_version()
            runtime = version_text(self.runtime_version())
            if driver == 0:
                why = "there is no NVIDIA driver (libcuda.so.1 cannot be loaded)"
            elif code == ERROR_INSUFFICIENT_DRIVER:
                why = (
                    f"the driver supports CUDA {version_text(driver)}, older than this "
                    f"runtime's CUDA {runtime}"
                )
            else:
                why = "the driver reports no CUDA device"
            detail = (
                f"{self.error_name(code)} ({code}): {self.error_string(code)}"
                if code != SUCCESS
                else "0 devices"
            )
            raise NoGpu(
                f"No usable GPU: {why}. cudaGetDeviceCount answered {detail} "
                f"(runtime {self.path}, CUDA {runtime}).",
                NO_GPU_HINT,
                code,
            )
        self.check("cudaGetDeviceCount", code)
        return count.value

    def set_device(self, device: int) -> None:
        """``cudaSetDevice``."""
        self.check(f"cudaSetDevice({device})", self.lib.cudaSetDevice(device))

    def attribute(self, attr: int, device: int = 0) -> int:
        """``cudaDeviceGetAttribute`` (``attr`` is a ``cudaDeviceAttr`` value)."""
        value = ctypes.c_int()
        self.check(
            f"cudaDeviceGetAttribute({attr}, device {device})",
            self.lib.cudaDeviceGetAttribute(ctypes.byref(value), attr, device),
        )
        return value.value

    def device_name(self, device: int = 0) -> str:
        """The device's name, from the first field of ``cudaDeviceProp``."""
        buffer = ctypes.create_string_buffer(PROPS_BUFFER)
        # CUDA 12 exports the current struct as cudaGetDeviceProperties_v2; CUDA 13 only
        # has cudaGetDeviceProperties. The name comes first in every layout.
        function = getattr(self.lib, "cudaGetDeviceProperties_v2", None)
        if function is None:
            function = self.lib.cudaGetDeviceProperties
        self.check("cudaGetDeviceProperties", function(buffer, device))
        return buffer.raw[:NAME_BYTES].split(b"\0", 1)[0].decode(errors="replace")

    def pci_bus_id(self, device: int = 0) -> str:
        """``cudaDeviceGetPCIBusId``, e.g. ``0000:18:00.0`` (NVML finds the device by it)."""
        buffer = ctypes.create_string_buffer(64)
        self.check("cudaDeviceGetPCIBusId", self.lib.cudaDeviceGetPCIBusId(buffer, 64, device))
        return buffer.value.decode()

    def mem_info(self) -> tuple[int, int]:
        """``cudaMemGetInfo``: free and total device memory in bytes (creates the context)."""
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        self.check(
            "cudaMemGetInfo", self.lib.cudaMemGetInfo(ctypes.byref(free), ctypes.byref(total))
        )
        return free.value, total.value

    # -- memory ---------------------------------------------------------------------------

    def malloc(self, nbytes: int) -> int:
        """``cudaMalloc``; returns the device address (at least one byte is allocated)."""
        ptr = ctypes.c_void_p()
        self.check(
            f"cudaMalloc({nbytes} bytes)", self.lib.cudaMalloc(ctypes.byref(ptr), max(1, nbytes))
        )
        return int(ptr.value or 0)

    def free(self, ptr: int) -> None:
        """``cudaFree``."""
        self.check("cudaFree", self.lib.cudaFree(ctypes.c_void_p(ptr)))

    def memcpy_htod(self, dst: int, src: np.ndarray) -> None:
        """Copy a C-contiguous host array to device memory (``cudaMemcpy``, synchronous)."""
        host = np.ascontiguousarray(src)
        if host.nbytes:
            self.check(
                "cudaMemcpy host to device",
                self.lib.cudaMemcpy(
                    ctypes.c_void_p(dst), host.ctypes.data, host.nbytes, MEMCPY_HOST_TO_DEVICE
                ),
            )

    def memcpy_dtoh(self, dst: np.ndarray, src: int) -> None:
        """Copy device memory into a C-contiguous host array (``cudaMemcpy``). Ordered after
        the work of the legacy default stream, as a caller using the kernel would be."""
        if not dst.flags.c_contiguous:
            raise ValueError("memcpy_dtoh needs a C-contiguous destination")
        if dst.nbytes:
            self.check(
                "cudaMemcpy device to host",
                self.lib.cudaMemcpy(
                    dst.ctypes.data, ctypes.c_void_p(src), dst.nbytes, MEMCPY_DEVICE_TO_HOST
                ),
            )

    def memset(self, ptr: int, value: int, nbytes: int) -> None:
        """``cudaMemset``: every byte set to ``value`` (0..255)."""
        if nbytes:
            self.check(
                "cudaMemset", self.lib.cudaMemset(ctypes.c_void_p(ptr), value & 0xFF, nbytes)
            )

    def synchronize(self) -> None:
        """``cudaDeviceSynchronize``: waits for all work on every stream of the device."""
        self.check("cudaDeviceSynchronize", self.lib.cudaDeviceSynchronize())

    # -- events and the profiler ----------------------------------------------------------

    def event_create(self) -> int:
        """``cudaEventCreate`` (timing enabled)."""
        event = ctypes.c_void_p()
        self.check("cudaEventCreate", self.lib.cudaEventCreate(ctypes.byref(event)))
        return int(event.value or 0)

    def event_destroy(self, event: int) -> None:
        """``cudaEventDestroy``."""
        self.check("cudaEventDestroy", self.lib.cudaEventDestroy(ctypes.c_void_p(event)))

    def event_record(self, event: int, stream: int = 0) -> None:
        """``cudaEventRecord`` on ``stream`` (0: the legacy default stream)."""
        self.check(
            "cudaEventRecord",
            self.lib.cudaEventRecord(ctypes.c_void_p(event), ctypes.c_void_p(stream)),
        )

    def event_synchronize(self, event: int) -> None:
        """``cudaEventSynchronize``."""
        self.check("cudaEventSynchronize", self.lib.cudaEventSynchronize(ctypes.c_void_p(event)))

    def event_elapsed_s(self, start: int, end: int) -> float:
        """``cudaEventElapsedTime`` between two completed events, in seconds."""
        ms = ctypes.c_float()
        self.check(
            "cudaEventElapsedTime",
            self.lib.cudaEventElapsedTime(
                ctypes.byref(ms), ctypes.c_void_p(start), ctypes.c_void_p(end)
            ),
        )
        return float(ms.value) / 1e3

    def profiler_start(self) -> None:
        """``cudaProfilerStart`` (Nsight Compute with ``--profile-from-start off``)."""
        self.check("cudaProfilerStart", self.lib.cudaProfilerStart())

    def profiler_stop(self) -> None:
        """``cudaProfilerStop``."""
        self.check("cudaProfilerStop", self.lib.cudaProfilerStop())


class DeviceArray:
    """A device buffer for one array of a fixed dtype and shape."""

    def __init__(self, runtime: Runtime, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self.runtime, self.shape, self.dtype = runtime, tuple(shape), np.dtype(dtype)
        self.nbytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        self.ptr = runtime.malloc(self.nbytes)

    def upload(self, host: np.ndarray) -> None:
        """Copy ``host`` (same dtype and size) into the buffer."""
        if host.dtype != self.dtype or host.nbytes != self.nbytes:
            raise ValueError(
                f"upload of {host.dtype}{host.shape} into a {self.dtype}{self.shape} buffer"
            )
        self.runtime.memcpy_htod(self.ptr, host)

    def download(self) -> np.ndarray:
        """A new host array with the buffer's content."""
        host = np.empty(self.shape, dtype=self.dtype)
        self.runtime.memcpy_dtoh(host, self.ptr)
        return host

    def fill_bytes(self, value: int) -> None:
        """Set every byte to ``value``."""
        self.runtime.memset(self.ptr, value, self.nbytes)

    def free(self, *, quiet: bool = False) -> None:
        """Release the buffer (once); ``quiet``: ignore a CUDA error (cleaning up after a
        kernel left the context broken, where every call fails)."""
        if self.ptr:
            ptr, self.ptr = self.ptr, 0
            try:
                self.runtime.free(ptr)
            except CudaError:
                if not quiet:
                    raise


@dataclass(frozen=True)
class GpuSpec:
    """What the Judge and the reports need to know about the GPU.

    Attributes:
        name: e.g. ``NVIDIA H100 80GB HBM3``.
        index: the CUDA device index.
        compute_capability: e.g. ``(9, 0)``.
        sm_count: streaming multiprocessors.
        l2_bytes: L2 cache size.
        memory_bus_bits, memory_clock_khz: the DRAM interface (0 when the runtime does not
            say).
        peak_bandwidth: theoretical DRAM bytes/s (``peak_bandwidth``; 0 when unknown).
        sm_clock_khz: the peak SM clock.
        max_threads_per_sm, shared_memory_per_sm: occupancy limits.
        total_memory: device memory in bytes (0 when not read).
        driver_version, runtime_version: CUDA versions as numbers (e.g. 13000).
        pci_bus_id: e.g. ``0000:18:00.0``.
    """

    name: str
    index: int
    compute_capability: tuple[int, int]
    sm_count: int
    l2_bytes: int
    memory_bus_bits: int
    memory_clock_khz: int
    peak_bandwidth: float
    sm_clock_khz: int
    max_threads_per_sm: int
    shared_memory_per_sm: int
    total_memory: int
    driver_version: int
    runtime_version: int
    pci_bus_id: str

    @property
    def arch(self) -> str:
        """The nvcc architecture of this GPU, e.g. ``sm_90``."""
        major, minor = self.compute_capability
        return f"sm_{major}{minor}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict, with the versions also as text."""
        data = asdict(self)
        data["compute_capability"] = f"{self.compute_capability[0]}.{self.compute_capability[1]}"
        data["arch"] = self.arch
        data["driver_cuda"] = version_text(self.driver_version)
        data["runtime_cuda"] = version_text(self.runtime_version)
        return data

    def text(self) -> str:
        """One paragraph for the Judge: the device and its roofline numbers."""
        bandwidth = (
            f"{self.peak_bandwidth / 1e9:,.0f} GB/s peak DRAM bandwidth "
            f"({self.memory_bus_bits}-bit bus at {self.memory_clock_khz / 1e3:,.0f} MHz)"
            if self.peak_bandwidth
            else "peak DRAM bandwidth unknown"
        )
        memory = f", {self.total_memory / 2**30:.0f} GiB" if self.total_memory else ""
        return (
            f"GPU {self.index}: {self.name} (compute capability "
            f"{self.compute_capability[0]}.{self.compute_capability[1]}, {self.arch}{memory}): "
            f"{self.sm_count} SMs at up to {self.sm_clock_khz / 1e3:,.0f} MHz, "
            f"{self.max_threads_per_sm} threads and {self.shared_memory_per_sm // 1024} KiB "
            f"shared memory per SM, {self.l2_bytes / 2**20:.0f} MiB L2, {bandwidth}. "
            f"Driver CUDA {version_text(self.driver_version)}, runtime CUDA "
            f"{version_text(self.runtime_version)}."
        )


def spec_from_attributes(
    attributes: dict[str, int],
    *,
    name: str,
    index: int = 0,
    total_memory: int = 0,
    driver_version: int = 0,
    runtime_version: int = 0,
    pci_bus_id: str = "",
) -> GpuSpec:
    """A ``GpuSpec`` from attribute values keyed as in ``ATTRIBUTES`` (missing ones: 0)."""

    def get(key: str) -> int:
        return int(attributes.get(key, 0))

    return GpuSpec(
        name=name,
        index=index,
        compute_capability=(get("cc_major"), get("cc_minor")),
        sm_count=get("sm_count"),
        l2_bytes=get("l2_bytes"),
        memory_bus_bits=get("memory_bus_bits"),
        memory_clock_khz=get("memory_clock_khz"),
        peak_bandwidth=peak_bandwidth(get("memory_clock_khz"), get("memory_bus_bits")),
        sm_clock_khz=get("clock_khz"),
        max_threads_per_sm=get("max_threads_per_sm"),
        shared_memory_per_sm=get("shared_memory_per_sm"),
        total_memory=total_memory,
        driver_version=driver_version,
        runtime_version=runtime_version,
        pci_bus_id=pci_bus_id,
    )


def gpu_spec(runtime: Runtime, device: int = 0, *, memory: bool = True) -> GpuSpec:
    """Read the device's properties.

    Args:
        runtime: the runtime.
        device: the CUDA device index.
        memory: also read the total memory (``cudaMemGetInfo``, which creates a context).

    Raises:
        NoGpu: there is no usable GPU.
        CudaError: a query failed.
    """
    count = runtime.device_count()
    if not 0 <= device < count:
        raise CudaError(f"There is no CUDA device {device}; this machine has {count}.", "")
    attributes: dict[str, int] = {}
    for key, attr in ATTRIBUTES.items():
        try:
            attributes[key] = runtime.attribute(attr, device)
        except CudaError:  # an attribute this driver does not report stays 0
            runtime.last_error()
    total = 0
    if memory:
        runtime.set_device(device)
        total = runtime.mem_info()[1]
    return spec_from_attributes(
        attributes,
        name=runtime.device_name(device),
        index=device,
        total_memory=total,
        driver_version=runtime.driver_version(),
        runtime_version=runtime.runtime_version(),
        pci_bus_id=runtime.pci_bus_id(device),
    )
