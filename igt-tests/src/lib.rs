// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Helpers shared by the conformance tests.
//!
//! The node under test comes from `ACCEL_DEVICE` (set by `guest/run-igt.sh` for each accel
//! node), defaulting to the first gaudi node. Besides raw ioctl helpers for hostile requests,
//! there are the buffer-object helpers of the GEM and PRIME tests: test patterns, the memory
//! counters at the start of a test ([`Baseline`]), child processes ([`in_child`]) and the
//! other devices a buffer can be shared with (the other gaudi nodes, vgem).

use std::{
    fs::{File, OpenOptions},
    io,
    os::fd::{AsFd, BorrowedFd, FromRawFd},
    os::unix::fs::MetadataExt,
    path::PathBuf,
};

pub use gaudi::{uapi, Mapping};
#[doc(hidden)]
pub use igt as __igt;

pub mod exec;
pub mod fuzz;
pub mod vgem;

/// Path of the accel node under test.
pub fn device_path() -> PathBuf {
    match std::env::var_os("ACCEL_DEVICE") {
        Some(p) => PathBuf::from(p),
        None => gaudi::accel_nodes()
            .ok()
            .and_then(|n| n.into_iter().next())
            .unwrap_or_else(|| PathBuf::from("/dev/accel/accel0")),
    }
}

/// Opens the node under test as a raw file.
pub fn open_raw() -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(device_path())
}

/// Opens the node under test through the userspace library.
pub fn open_device() -> io::Result<gaudi::Device> {
    gaudi::Device::open(device_path())
}

/// Issues `request` with the bytes of `arg` as argument; returns 0 or the errno.
///
/// Unlike [`gaudi::ioctl`], this does not check the size encoded in `request` against `T`:
/// tests use it to send deliberately wrong requests. The buffer is always at least as large
/// as the size in `request`.
pub fn ioctl_errno<T>(fd: BorrowedFd<'_>, request: u32, arg: &mut T) -> i32 {
    let size = ((request >> 16) & 0x3fff) as usize;
    assert!(
        size <= std::mem::size_of::<T>(),
        "argument buffer too small for the request"
    );
    // SAFETY: `arg` is valid for reads and writes of `size_of::<T>()` bytes, at least the size
    // encoded in `request`.
    match unsafe { gaudi::ioctl_raw(fd, request, (arg as *mut T).cast()) } {
        Ok(()) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// Like [`ioctl_errno`] with a raw pointer argument (which may be invalid on purpose).
pub fn ioctl_ptr_errno(fd: BorrowedFd<'_>, request: u32, arg: usize) -> i32 {
    // SAFETY: The kernel validates user pointers; an invalid `arg` yields EFAULT, it cannot
    // corrupt this process beyond what the request is documented to write.
    match unsafe { gaudi::ioctl_raw(fd, request, arg as *mut libc::c_void) } {
        Ok(()) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// `_IOC(dir, ty, nr, size)`.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    uapi::ioc(dir, ty, nr, size)
}

/// Borrowed fd of any file.
pub fn fd(f: &impl AsFd) -> BorrowedFd<'_> {
    f.as_fd()
}

/// An address that was mapped (`len` bytes) and no longer is, for bad-pointer tests.
pub fn unmapped_address(len: usize) -> io::Result<usize> {
    let m = Mapping::anonymous(len, libc::PROT_READ | libc::PROT_WRITE)?;
    Ok(m.as_ptr() as usize)
}

/// The errno of a failed call, 0 for a successful one.
pub fn errno<T>(r: io::Result<T>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// Unwraps an `io::Result` in a test body, failing the test with the expression and the error
/// (at the caller's line) otherwise.
#[macro_export]
macro_rules! ok {
    ($e:expr) => {
        ($e).map_err(|e| $crate::__igt::fail!("{}: {e}", ::core::stringify!($e)))?
    };
    ($e:expr, $($arg:tt)+) => {
        ($e).map_err(|e| $crate::__igt::fail!("{}: {e}", ::std::format!($($arg)+)))?
    };
}

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety requirements.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).unwrap_or(4096)
}

/// `len` bytes of a pattern that differs with `seed` and from page to page (xorshift).
pub fn pattern(seed: u32, len: usize) -> Vec<u8> {
    let mut x = u64::from(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Offset of the first byte where `got` and `want` differ, if any (also on a length mismatch).
pub fn first_mismatch(got: &[u8], want: &[u8]) -> Option<usize> {
    got.iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .or_else(|| (got.len() != want.len()).then(|| got.len().min(want.len())))
}

/// Fails unless the mapping holds `want`; `what` says which mapping in the message.
pub fn expect(map: &Mapping, want: &[u8], what: &str) -> igt::Result {
    let got = map
        .to_vec()
        .map_err(|e| igt::fail!("{what}: reading the mapping: {e}"))?;
    igt::assert!(
        got == want,
        "{what}: {} bytes, first mismatch at {:?}",
        map.len(),
        first_mismatch(&got, want)
    );
    Ok(())
}

/// The kinds of buffer object, by creation flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// System memory, cached CPU mappings.
    System,
    /// System memory, write-combined CPU mappings (`DRM_GAUDI_BO_WC`).
    Wc,
    /// Device memory (`DRM_GAUDI_BO_DEVICE`).
    Device,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 3] = [Kind::System, Kind::Wc, Kind::Device];

    /// `DRM_GAUDI_GEM_CREATE` flags of the kind.
    pub fn flags(self) -> u32 {
        match self {
            Kind::System => 0,
            Kind::Wc => uapi::DRM_GAUDI_BO_WC,
            Kind::Device => uapi::DRM_GAUDI_BO_DEVICE,
        }
    }

    /// Short name, for messages and subtest names.
    pub fn name(self) -> &'static str {
        match self {
            Kind::System => "system",
            Kind::Wc => "wc",
            Kind::Device => "device",
        }
    }
}

/// How long freed objects may take to leave the memory counters: they leave synchronously
/// with the last reference, but a dma-buf file or a mapping of an exiting process may be
/// released by the kernel a little after the call that dropped it returns.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// The memory counters of a device at the start of a test, to check that everything the test
/// made is gone at its end. Holds a file of its own, which creates no object.
pub struct Baseline {
    dev: gaudi::Device,
    start: uapi::drm_gaudi_memory_info,
}

impl Baseline {
    /// Records the counters of the device at `path`.
    pub fn new(path: impl AsRef<std::path::Path>) -> igt::Result<Self> {
        let path = path.as_ref();
        let dev =
            gaudi::Device::open(path).map_err(|e| igt::fail!("open {}: {e}", path.display()))?;
        let start = dev
            .memory_info()
            .map_err(|e| igt::fail!("DRM_GAUDI_QUERY_MEMORY: {e}"))?;
        Ok(Self { dev, start })
    }

    /// Records the counters of the node under test.
    pub fn of_device_under_test() -> igt::Result<Self> {
        Self::new(device_path())
    }

    /// The counters at the start.
    pub fn start(&self) -> uapi::drm_gaudi_memory_info {
        self.start
    }

    /// The counters now.
    pub fn now(&self) -> igt::Result<uapi::drm_gaudi_memory_info> {
        self.dev
            .memory_info()
            .map_err(|e| igt::fail!("DRM_GAUDI_QUERY_MEMORY: {e}"))
    }

    /// Fails unless the object count, object bytes and free device memory are back at their
    /// starting values (within [`SETTLE`]).
    pub fn check(&self) -> igt::Result {
        let deadline = std::time::Instant::now() + SETTLE;
        loop {
            let now = self.now()?;
            if now == self.start {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(igt::fail!(
                    "memory not returned: started with {:?}, now {:?}",
                    self.start,
                    now
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// Runs `f` in a child process (`fork()`) and returns its result: `Err` with the child's
/// message if `f` failed, panicked or the child died.
///
/// The child reports through a pipe and leaves with `_exit()`, so nothing of the parent's
/// harness state runs twice. Call it only while the process has a single thread.
pub fn in_child(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    use std::io::{Read, Write};
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe: {}", io::Error::last_os_error()));
    }
    // SAFETY: pipe2 returned two new descriptors that nothing else owns.
    let (mut rx, tx) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // SAFETY: The process is single-threaded (documented requirement); the child only runs
    // `f` and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(rx);
        let mut tx = tx;
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .unwrap_or_else(|_| Err("panicked".into()));
        let code = match r {
            Ok(()) => 0,
            Err(msg) => {
                let _ = tx.write_all(msg.as_bytes());
                1
            }
        };
        // SAFETY: Leaves the child at once, without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    drop(tx);
    let mut msg = String::new();
    let _ = rx.read_to_string(&mut msg);
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is valid for writes.
    if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
        return Err(format!("waitpid: {}", io::Error::last_os_error()));
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else if !msg.is_empty() {
        Err(format!("child: {msg}"))
    } else {
        Err(format!("child died with wait status {status:#x}"))
    }
}

/// The gaudi accel nodes other than the one under test.
///
/// The suite runs with two devices; tests that need a second one take it from
/// [`other_device_path`], which fails without one, rather than skipping or testing less.
pub fn other_device_paths() -> Vec<PathBuf> {
    let me = std::fs::metadata(device_path()).ok().map(|m| m.rdev());
    gaudi::accel_nodes()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| std::fs::metadata(p).ok().map(|m| m.rdev()) != me)
        .filter(|p| gaudi::Device::open(p).is_ok())
        .collect()
}

/// The first gaudi node other than the one under test; fails if there is none.
pub fn other_device_path() -> igt::Result<PathBuf> {
    other_device_paths()
        .into_iter()
        .next()
        .ok_or_else(|| igt::fail!("no second gaudi device: the suite runs with two"))
}

/// Opens vgem's primary node; fails if there is no vgem device (the test kernel has
/// `CONFIG_DRM_VGEM`: a test that cannot set up fails rather than skips).
pub fn open_vgem() -> igt::Result<File> {
    match gaudi::drm::open_primary("vgem") {
        Ok(Some(f)) => Ok(f),
        Ok(None) => Err(igt::fail!("no vgem device (CONFIG_DRM_VGEM)")),
        Err(e) => Err(igt::fail!("looking for vgem: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_differ_by_seed_and_page() {
        let a = pattern(1, 8192);
        assert_eq!(a, pattern(1, 8192));
        assert_eq!(a.len(), 8192);
        assert_ne!(a, pattern(2, 8192));
        assert_ne!(a[..4096], a[4096..]);
        assert_eq!(pattern(3, 5).len(), 5);
    }

    #[test]
    fn mismatches() {
        assert_eq!(first_mismatch(b"abc", b"abc"), None);
        assert_eq!(first_mismatch(b"abc", b"abd"), Some(2));
        assert_eq!(first_mismatch(b"ab", b"abc"), Some(2));
    }

    #[test]
    fn child_results() {
        assert_eq!(in_child(|| Ok(())), Ok(()));
        assert_eq!(in_child(|| Err("no".into())), Err("child: no".into()));
        let died = in_child(|| panic!("boom")).unwrap_err();
        assert_eq!(died, "child: panicked");
    }

    #[test]
    fn child_shares_mappings() {
        let m = Mapping::anonymous(4096, libc::PROT_READ | libc::PROT_WRITE).unwrap();
        m.write(0, b"parent").unwrap();
        // A private mapping is copied: the child's write stays in the child.
        in_child(|| {
            let mut b = [0u8; 6];
            m.read(0, &mut b).map_err(|e| e.to_string())?;
            m.write(0, b"child!").map_err(|e| e.to_string())?;
            (&b == b"parent")
                .then_some(())
                .ok_or_else(|| "not inherited".into())
        })
        .unwrap();
        let mut b = [0u8; 6];
        m.read(0, &mut b).unwrap();
        assert_eq!(&b, b"parent");
    }

    #[test]
    fn errnos() {
        assert_eq!(errno(Ok::<(), io::Error>(())), 0);
        assert_eq!(
            errno::<()>(Err(io::Error::from_raw_os_error(libc::ENOENT))),
            libc::ENOENT
        );
    }
}
