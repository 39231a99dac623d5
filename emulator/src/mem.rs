// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Shared memory: the device's region (register file and device memory) and guest RAM.
//!
//! Both are mapped `MAP_SHARED` and written concurrently by the guest, so every access goes
//! through a raw pointer: atomic operations for registers, page-table descriptors and fence
//! values, `memmove`-style copies for bulk data (what DMA engines do); nothing hands out Rust
//! references to the memory. Ordering against the guest is the caller's business: the device
//! issues an acquire fence after it consumed a doorbell and a release fence before it
//! publishes a status and raises an interrupt (see `device.rs` and `queue.rs`).

use std::{
    fs::OpenOptions,
    io,
    os::fd::{AsFd, OwnedFd},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    ptr::NonNull,
    sync::{
        atomic::{AtomicU32, AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use rustix::mm::{self, MapFlags, ProtFlags};

fn efault() -> io::Error {
    io::Error::from_raw_os_error(libc::EFAULT)
}

/// A shared mapping of a file descriptor or of anonymous memory.
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: The mapping is plain shared memory; all accesses go through atomic operations or
// raw-pointer copies, never through Rust references, so it may be used from any thread.
unsafe impl Send for Mapping {}
// SAFETY: As above: `&Mapping` only allows raw-pointer and atomic accesses.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn mapped(ptr: *mut std::ffi::c_void, len: usize) -> io::Result<Self> {
        let ptr =
            NonNull::new(ptr.cast()).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(Self { ptr, len })
    }

    /// Maps the first `len` bytes of `fd` read-write and shared.
    pub fn new(fd: &impl AsFd, len: usize) -> io::Result<Self> {
        if len == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: Creates a new mapping at an address the kernel chooses; no existing memory
        // is affected.
        let ptr = unsafe {
            mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                0,
            )
        }?;
        Self::mapped(ptr, len)
    }

    /// Maps `len` bytes of zeroed anonymous memory (a plain buffer, for tests).
    pub fn anonymous(len: usize) -> io::Result<Self> {
        if len == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: As in `new`.
        let ptr = unsafe {
            mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
            )
        }?;
        Self::mapped(ptr, len)
    }

    /// Length of the mapping.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never: empty mappings are refused).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Pointer to `size` bytes at `off`, if they lie inside the mapping.
    fn at(&self, off: usize, size: usize) -> Option<*mut u8> {
        match off.checked_add(size) {
            // SAFETY: `off + size <= len`, so the result stays inside the mapping.
            Some(end) if end <= self.len => Some(unsafe { self.ptr.as_ptr().add(off) }),
            _ => None,
        }
    }

    /// The 32-bit word at `off`, if it is in bounds and aligned.
    fn word(&self, off: usize) -> Option<&AtomicU32> {
        if off % 4 != 0 {
            return None;
        }
        let p = self.at(off, 4)?;
        // SAFETY: `p` is in bounds and 4-byte aligned (the mapping is page-aligned), and it
        // stays valid as long as `self`. The memory is only ever accessed through atomic or
        // volatile operations.
        Some(unsafe { AtomicU32::from_ptr(p.cast()) })
    }

    /// Reads the little-endian `u32` at `off`; 0 if out of bounds or misaligned.
    pub fn read32(&self, off: usize) -> u32 {
        self.word(off)
            .map_or(0, |w| u32::from_le(w.load(Ordering::Relaxed)))
    }

    /// Writes the little-endian `u32` at `off`; ignored if out of bounds or misaligned.
    pub fn write32(&self, off: usize, value: u32) {
        if let Some(w) = self.word(off) {
            w.store(value.to_le(), Ordering::Relaxed);
        }
    }

    /// Atomically adds `n` to the little-endian `u32` at `off` (wrapping).
    pub fn add32(&self, off: usize, n: u32) {
        if let Some(w) = self.word(off) {
            let _ = w.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(u32::from_le(v).wrapping_add(n).to_le())
            });
        }
    }

    /// Reads the little-endian `u64` at `off` as two 32-bit halves, low first (the driver
    /// may write it that way; the device reads it only after a doorbell).
    pub fn read64(&self, off: usize) -> u64 {
        u64::from(self.read32(off)) | (u64::from(self.read32(off.wrapping_add(4))) << 32)
    }

    /// Writes the little-endian `u64` at `off` as two 32-bit halves, low first.
    pub fn write64(&self, off: usize, value: u64) {
        self.write32(off, value as u32);
        self.write32(off.wrapping_add(4), (value >> 32) as u32);
    }

    /// The 64-bit word at `off`, if it is in bounds and aligned.
    fn quad(&self, off: usize) -> Option<&AtomicU64> {
        if off % 8 != 0 {
            return None;
        }
        let p = self.at(off, 8)?;
        // SAFETY: As in `word`, with 8-byte alignment.
        Some(unsafe { AtomicU64::from_ptr(p.cast()) })
    }

    /// Reads the little-endian `u64` at `off` in one atomic access; `None` if out of bounds
    /// or misaligned. Page-table descriptors and fence values are read this way.
    pub fn load64(&self, off: usize) -> Option<u64> {
        self.quad(off)
            .map(|q| u64::from_le(q.load(Ordering::Relaxed)))
    }

    /// Writes the little-endian `u64` at `off` in one atomic access; `false` if out of bounds
    /// or misaligned.
    pub fn store64(&self, off: usize, value: u64) -> bool {
        self.quad(off)
            .map(|q| q.store(value.to_le(), Ordering::Relaxed))
            .is_some()
    }

    /// Atomically sets `bits` in the little-endian `u32` at `off`.
    pub fn or32(&self, off: usize, bits: u32) {
        if let Some(w) = self.word(off) {
            w.fetch_or(bits.to_le(), Ordering::Relaxed);
        }
    }

    /// Atomically clears `bits` in the little-endian `u32` at `off`.
    pub fn clear32(&self, off: usize, bits: u32) {
        if let Some(w) = self.word(off) {
            w.fetch_and(!bits.to_le(), Ordering::Relaxed);
        }
    }

    /// Copies `data` to `off`; `EFAULT` if the range is outside the mapping.
    pub fn write_bytes(&self, off: usize, data: &[u8]) -> io::Result<()> {
        let p = self.at(off, data.len()).ok_or_else(efault)?;
        // SAFETY: `off + data.len() <= len`; `data` is a Rust slice, which never points into
        // a mapping (no references to mapped memory exist), so the ranges do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
        Ok(())
    }

    /// Copies `out.len()` bytes from `off`; `EFAULT` if the range is outside the mapping.
    pub fn read_bytes(&self, off: usize, out: &mut [u8]) -> io::Result<()> {
        let p = self.at(off, out.len()).ok_or_else(efault)?;
        // SAFETY: As in `write_bytes`.
        unsafe { std::ptr::copy_nonoverlapping(p, out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    /// Copies `len` bytes from `src` at `src_off` to `dst` at `dst_off` (`memmove`: the two
    /// ranges may overlap when `src` and `dst` are the same mapping); `EFAULT` if either
    /// range is outside its mapping.
    pub fn copy(
        src: &Mapping,
        src_off: usize,
        dst: &Mapping,
        dst_off: usize,
        len: usize,
    ) -> io::Result<()> {
        let s = src.at(src_off, len).ok_or_else(efault)?;
        let d = dst.at(dst_off, len).ok_or_else(efault)?;
        // SAFETY: Both ranges are inside live mappings; `copy` allows overlap.
        unsafe { std::ptr::copy(s, d, len) };
        Ok(())
    }

    /// Fills `len` bytes at `off` with the 4-byte `pattern`, byte `i` of the range getting
    /// `pattern[i % 4]`; `EFAULT` if the range is outside the mapping.
    pub fn fill(&self, off: usize, len: usize, pattern: [u8; 4]) -> io::Result<()> {
        let p = self.at(off, len).ok_or_else(efault)?;
        if pattern.iter().all(|&b| b == pattern[0]) {
            // SAFETY: `off + len <= self.len`.
            unsafe { std::ptr::write_bytes(p, pattern[0], len) };
            return Ok(());
        }
        const CHUNK: usize = 1024;
        let mut buf = [0u8; CHUNK];
        for (i, b) in buf.iter_mut().enumerate() {
            *b = pattern[i % 4];
        }
        let mut done = 0;
        while done < len {
            let n = (len - done).min(CHUNK);
            // SAFETY: `done + n <= len`, inside the range checked above; `buf` is ours.
            unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), p.add(done), n) };
            done += n;
        }
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` describe a mapping created by `new` or `anonymous` and not
        // used after this.
        let _ = unsafe { mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Creates the anonymous shared-memory file of a device, `len` bytes, sealed against
/// resizing so that a client cannot shrink it under the emulator's mapping.
pub fn memfd(name: &str, len: usize) -> io::Result<OwnedFd> {
    use rustix::fs::{MemfdFlags, SealFlags};
    let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
    let len = i64::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    rustix::fs::ftruncate(&fd, len as u64)?;
    rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)?;
    Ok(fd)
}

/// Something the device can DMA to and from: guest RAM, or a plain buffer in tests.
pub trait Dma {
    /// Writes `data` at guest physical address `addr`; `EFAULT` (or the cause) on failure.
    fn dma_write(&mut self, addr: u64, data: &[u8]) -> io::Result<()>;
    /// Reads `out.len()` bytes at guest physical address `addr`.
    fn dma_read(&mut self, addr: u64, out: &mut [u8]) -> io::Result<()>;
}

/// A plain buffer as guest RAM starting at guest physical address 0.
impl Dma for [u8] {
    fn dma_write(&mut self, addr: u64, data: &[u8]) -> io::Result<()> {
        let start = usize::try_from(addr).map_err(|_| efault())?;
        let end = start.checked_add(data.len()).ok_or_else(efault)?;
        self.get_mut(start..end)
            .ok_or_else(efault)?
            .copy_from_slice(data);
        Ok(())
    }

    fn dma_read(&mut self, addr: u64, out: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(addr).map_err(|_| efault())?;
        let end = start.checked_add(out.len()).ok_or_else(efault)?;
        out.copy_from_slice(self.get(start..end).ok_or_else(efault)?);
        Ok(())
    }
}

/// Identity of the mapped file: a replaced or resized file is mapped again.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct FileId {
    dev: u64,
    ino: u64,
    len: u64,
}

impl FileId {
    fn of(m: &std::fs::Metadata) -> Self {
        Self {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
        }
    }
}

/// Guest RAM as QEMU's shared memory backend file, mapped on first use.
///
/// Guest physical addresses equal file offsets (guest RAM must lie below the PCI hole). The
/// file may be created or resized after the emulator starts; it is looked up on every DMA and
/// mapped again when it changed. DMA is bounded by the file size and by the optional limit
/// (`--ram-size`).
pub struct GuestRam {
    path: PathBuf,
    limit: Option<u64>,
    map: Option<(FileId, Arc<Mapping>)>,
    /// Whether the last lookup failed (logs once per failure streak).
    failing: bool,
}

impl GuestRam {
    /// Guest RAM backed by the file at `path`, which may not exist yet, of at most `limit`
    /// bytes if given.
    pub fn new(path: &Path, limit: Option<u64>) -> Self {
        Self {
            path: path.to_path_buf(),
            limit,
            map: None,
            failing: false,
        }
    }

    /// Forgets the current mapping (a new QEMU may use a new file).
    pub fn invalidate(&mut self) {
        self.map = None;
    }

    /// Size of guest RAM as DMA sees it, if the file can be mapped.
    pub fn size(&mut self) -> io::Result<usize> {
        self.mapping().map(|m| m.len())
    }

    /// The current mapping of guest RAM: the file is looked up again, and mapped again if
    /// it changed. The mapping stays valid as long as the caller holds it.
    pub fn current(&mut self) -> io::Result<Arc<Mapping>> {
        self.mapping().cloned()
    }

    fn lookup(&mut self) -> io::Result<()> {
        let id = FileId::of(&std::fs::metadata(&self.path)?);
        if self.map.as_ref().map(|(cur, _)| *cur) == Some(id) {
            return Ok(());
        }
        self.map = None;
        let file = OpenOptions::new().read(true).write(true).open(&self.path)?;
        let id = FileId::of(&file.metadata()?);
        let len = self.limit.map_or(id.len, |l| l.min(id.len));
        let len = usize::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "guest RAM file is empty",
            ));
        }
        self.map = Some((id, Arc::new(Mapping::new(&file, len)?)));
        eprintln!(
            "gaudi-emu: mapped guest RAM {} ({len:#x} bytes)",
            self.path.display()
        );
        Ok(())
    }

    fn mapping(&mut self) -> io::Result<&Arc<Mapping>> {
        match self.lookup() {
            Ok(()) => self.failing = false,
            Err(e) => {
                if !self.failing {
                    eprintln!("gaudi-emu: guest RAM {}: {e}", self.path.display());
                }
                self.failing = true;
                return Err(e);
            }
        }
        self.map.as_ref().map(|(_, m)| m).ok_or_else(efault)
    }
}

impl Dma for GuestRam {
    fn dma_write(&mut self, addr: u64, data: &[u8]) -> io::Result<()> {
        let off = usize::try_from(addr).map_err(|_| efault())?;
        self.mapping()?.write_bytes(off, data)
    }

    fn dma_read(&mut self, addr: u64, out: &mut [u8]) -> io::Result<()> {
        let off = usize::try_from(addr).map_err(|_| efault())?;
        self.mapping()?.read_bytes(off, out)
    }
}

/// Guest RAM shared by the devices of a server and their queue threads: QEMU's file, or a
/// fixed mapping (tests). It also knows the shared regions (BAR2) of every device of the
/// server, which the devices reach as PCIe peers (see `mmu::Bus`).
pub struct SharedRam(Mutex<RamSource>, Mutex<Vec<Arc<Mapping>>>);

enum RamSource {
    File(GuestRam),
    Fixed(Arc<Mapping>),
}

impl SharedRam {
    /// Guest RAM in the file at `path` (see [`GuestRam`]).
    pub fn file(path: &Path, limit: Option<u64>) -> Self {
        Self(
            Mutex::new(RamSource::File(GuestRam::new(path, limit))),
            Mutex::new(Vec::new()),
        )
    }

    /// Guest RAM that is `map`, from guest physical address 0.
    pub fn fixed(map: Arc<Mapping>) -> Self {
        Self(Mutex::new(RamSource::Fixed(map)), Mutex::new(Vec::new()))
    }

    fn source(&self) -> std::sync::MutexGuard<'_, RamSource> {
        // A panic elsewhere cannot leave the source inconsistent: use it anyway.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current mapping (see [`GuestRam::current`]).
    pub fn current(&self) -> io::Result<Arc<Mapping>> {
        match &mut *self.source() {
            RamSource::File(ram) => ram.current(),
            RamSource::Fixed(map) => Ok(map.clone()),
        }
    }

    /// Adds the shared region of a device of the server: its peers reach its device memory.
    pub fn add_device(&self, shm: Arc<Mapping>) {
        self.1.lock().unwrap_or_else(|e| e.into_inner()).push(shm);
    }

    /// The shared regions of the server's devices.
    pub fn devices(&self) -> Vec<Arc<Mapping>> {
        self.1.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Forgets the current mapping of a file (a new QEMU may use a new file).
    pub fn invalidate(&self) {
        if let RamSource::File(ram) = &mut *self.source() {
            ram.invalidate();
        }
    }
}

impl Dma for &SharedRam {
    fn dma_write(&mut self, addr: u64, data: &[u8]) -> io::Result<()> {
        let off = usize::try_from(addr).map_err(|_| efault())?;
        self.current()?.write_bytes(off, data)
    }

    fn dma_read(&mut self, addr: u64, out: &mut [u8]) -> io::Result<()> {
        let off = usize::try_from(addr).map_err(|_| efault())?;
        self.current()?.read_bytes(off, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_copy_fill_and_atomics() {
        let m = Mapping::anonymous(8192).unwrap();
        m.write_bytes(0, b"0123456789").unwrap();
        // Overlapping copy inside one mapping behaves like memmove.
        Mapping::copy(&m, 0, &m, 2, 8).unwrap();
        let mut out = [0u8; 10];
        m.read_bytes(0, &mut out).unwrap();
        assert_eq!(&out, b"0101234567");
        Mapping::copy(&m, 2, &m, 0, 8).unwrap();
        m.read_bytes(0, &mut out).unwrap();
        assert_eq!(&out, b"0123456767");
        assert!(Mapping::copy(&m, 8190, &m, 0, 4).is_err());
        assert!(Mapping::copy(&m, 0, &m, usize::MAX, 4).is_err());
        // Fill with a pattern, longer than the internal chunk and of odd length.
        m.fill(3, 3001, [1, 2, 3, 4]).unwrap();
        let mut buf = vec![0u8; 3010];
        m.read_bytes(0, &mut buf).unwrap();
        assert_eq!(&buf[..3], b"012");
        for (i, b) in buf[3..3004].iter().enumerate() {
            assert_eq!(*b, [1, 2, 3, 4][i % 4]);
        }
        assert_eq!(buf[3004], 0);
        m.fill(0, 5, [7; 4]).unwrap();
        m.read_bytes(0, &mut out).unwrap();
        assert_eq!(&out[..6], &[7, 7, 7, 7, 7, 3]);
        assert!(m.fill(8000, 193, [0; 4]).is_err());
        // 64-bit atomics need alignment; bit operations.
        assert!(m.store64(16, 0x1122_3344_5566_7788));
        assert_eq!(m.load64(16), Some(0x1122_3344_5566_7788));
        assert_eq!(m.read32(20), 0x1122_3344);
        assert!(!m.store64(12, 1));
        assert_eq!(m.load64(8192), None);
        m.write32(32, 0b1010);
        m.or32(32, 0b0101);
        m.clear32(32, 0b0011);
        assert_eq!(m.read32(32), 0b1100);
    }

    #[test]
    fn shared_ram_fixed_and_file() {
        let map = Arc::new(Mapping::anonymous(4096).unwrap());
        let ram = SharedRam::fixed(map.clone());
        (&ram).dma_write(8, &[5; 8]).unwrap();
        assert_eq!(map.read64(8), 0x0505_0505_0505_0505);
        assert!((&ram).dma_write(4092, &[5; 8]).is_err());
        let path = temp_path("shared");
        let _ = std::fs::remove_file(&path);
        let ram = SharedRam::file(&path, None);
        assert!(ram.current().is_err());
        std::fs::File::create(&path).unwrap().set_len(4096).unwrap();
        assert_eq!(ram.current().unwrap().len(), 4096);
        ram.invalidate();
        assert_eq!(ram.current().unwrap().len(), 4096);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn registers_are_little_endian_and_bounded() {
        let m = Mapping::anonymous(4096).unwrap();
        m.write64(8, 0x1122_3344_5566_7788);
        let mut b = [0u8; 8];
        m.read_bytes(8, &mut b).unwrap();
        assert_eq!(b, 0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(m.read32(12), 0x1122_3344);
        // Out of bounds or misaligned accesses read 0 and write nothing.
        assert_eq!(m.read32(4096), 0);
        assert_eq!(m.read32(4094), 0);
        assert_eq!(m.read32(9), 0);
        m.write32(4096, 1);
        m.write32(usize::MAX - 1, 1);
        assert_eq!(m.read64(usize::MAX - 3), 0);
        assert!(m.write_bytes(4090, &[0; 8]).is_err());
        assert!(m.write_bytes(usize::MAX, &[0; 2]).is_err());
        m.write32(16, u32::MAX);
        m.add32(16, 2);
        assert_eq!(m.read32(16), 1);
    }

    #[test]
    fn memfd_is_sealed_against_resizing() {
        let fd = memfd("gaudi-emu-test", 1 << 16).unwrap();
        assert!(rustix::fs::ftruncate(&fd, 4096).is_err());
        assert!(rustix::fs::ftruncate(&fd, 1 << 20).is_err());
        assert_eq!(rustix::fs::fstat(&fd).unwrap().st_size, 1 << 16);
        let m = Mapping::new(&fd, 1 << 16).unwrap();
        m.write32(0, 5);
        assert_eq!(m.read32(0), 5);
    }

    #[test]
    fn plain_buffer_dma_is_bounded() {
        let mut backing = [0u8; 64];
        let buf = &mut backing[..];
        buf.dma_write(56, &[1; 8]).unwrap();
        assert_eq!(buf[56..], [1; 8]);
        assert!(buf.dma_write(57, &[1; 8]).is_err());
        assert!(buf.dma_write(u64::MAX, &[1; 8]).is_err());
        let mut out = [0u8; 8];
        buf.dma_read(56, &mut out).unwrap();
        assert_eq!(out, [1; 8]);
    }

    fn temp_path(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("gaudi-emu-mem-{}-{tag}", std::process::id()))
    }

    #[test]
    fn guest_ram_appears_late_and_is_remapped_when_replaced() {
        let path = temp_path("late");
        let _ = std::fs::remove_file(&path);
        let mut ram = GuestRam::new(&path, None);
        assert!(ram.dma_write(0, &[1]).is_err(), "no file yet");

        std::fs::File::create(&path).unwrap().set_len(4096).unwrap();
        ram.dma_write(4088, &[7; 8]).unwrap();
        assert!(ram.dma_write(4089, &[7; 8]).is_err());
        assert_eq!(std::fs::read(&path).unwrap()[4088..], [7; 8]);

        // Grown in place: the new size is seen.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(8192)
            .unwrap();
        ram.dma_write(8184, &[8; 8]).unwrap();

        // Replaced by a new file of the same size: the new file is written.
        std::fs::remove_file(&path).unwrap();
        std::fs::File::create(&path).unwrap().set_len(8192).unwrap();
        ram.dma_write(0, &[9; 8]).unwrap();
        assert_eq!(std::fs::read(&path).unwrap()[..8], [9; 8]);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn guest_ram_limit() {
        let path = temp_path("limit");
        std::fs::File::create(&path).unwrap().set_len(8192).unwrap();
        let mut ram = GuestRam::new(&path, Some(4096));
        assert_eq!(ram.size().unwrap(), 4096);
        ram.dma_write(4088, &[1; 8]).unwrap();
        assert!(ram.dma_write(4096, &[1; 8]).is_err());
        std::fs::remove_file(&path).unwrap();
    }
}
