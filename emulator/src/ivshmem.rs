// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The server side of QEMU's ivshmem protocol, and eventfd helpers.
//!
//! As in QEMU's `docs/specs/ivshmem-spec.rst` and `hw/misc/ivshmem-pci.c`
//! (`ivshmem_recv_setup`, `process_msg`): every message is a little-endian `i64` on the unix
//! socket, optionally with one file descriptor attached (`SCM_RIGHTS`). On connection the
//! server sends, in this order:
//!
//! 1. the protocol version [`PROTOCOL_VERSION`], no fd;
//! 2. the client's own peer id, no fd;
//! 3. [`SHM_MESSAGE`] (-1) with the shared-memory fd (QEMU maps `st_size` bytes as BAR2);
//! 4. for every other peer, its id N times with one eventfd each: the fds the client's
//!    `Doorbell` register writes to for vectors 0..N-1 of that peer;
//! 5. the client's own id N times with one eventfd each: QEMU wires them to its MSI-X
//!    vectors 0..N-1 (writing one injects that interrupt).
//!
//! QEMU reads messages 1-3 synchronously while the device realizes and the rest from its
//! main loop; eventfds must follow the shared memory (QEMU only sets its interrupt state up
//! after it). Extra eventfds beyond the device's `vectors` property are refused by QEMU.

use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
    os::unix::net::UnixStream,
};

/// Protocol version the server speaks.
pub const PROTOCOL_VERSION: i64 = 0;
/// Value of the message that carries the shared-memory fd.
pub const SHM_MESSAGE: i64 = -1;

/// Control-message buffer for one `SCM_RIGHTS` message, suitably aligned. Room for a few fds
/// so that a receiver can see (and close) more than it expects.
#[repr(C, align(8))]
struct CmsgBuf([u8; 64]);

/// Sends one protocol message, with `fd` attached if given.
pub fn send_msg(sock: &UnixStream, value: i64, fd: Option<RawFd>) -> io::Result<()> {
    let bytes = value.to_le_bytes();
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    let mut cmsg_buf = CmsgBuf([0; 64]);
    // SAFETY: An all-zero msghdr is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        // SAFETY: CMSG_SPACE only computes a size.
        let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
        if space > cmsg_buf.0.len() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        msg.msg_control = cmsg_buf.0.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: `msg_control` points to an aligned buffer of at least `msg_controllen`
        // bytes, large enough for one header and one fd, as checked above.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        }
    }
    loop {
        // SAFETY: `msg` describes valid buffers for the duration of the call.
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        // A stream socket may in principle take part of the message; the fd went with the
        // first byte, so a short write cannot be completed without reordering. Give up.
        if n as usize != bytes.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short write of a message",
            ));
        }
        return Ok(());
    }
}

/// Receives one protocol message and the fd attached to it, if any (the client side; the
/// tests use it to play QEMU). Extra fds are closed; a message with more than one fd is an
/// error.
pub fn recv_msg(sock: &UnixStream) -> io::Result<(i64, Option<OwnedFd>)> {
    let mut bytes = [0u8; 8];
    let mut got = 0;
    let mut fds: Vec<OwnedFd> = Vec::new();
    while got < bytes.len() {
        let mut iov = libc::iovec {
            // SAFETY: `got < bytes.len()`.
            iov_base: unsafe { bytes.as_mut_ptr().add(got) }.cast(),
            iov_len: bytes.len() - got,
        };
        let mut cmsg_buf = CmsgBuf([0; 64]);
        // SAFETY: An all-zero msghdr is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg_buf.0.as_mut_ptr().cast();
        msg.msg_controllen = cmsg_buf.0.len() as _;
        // SAFETY: `msg` describes valid buffers for the duration of the call.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        // SAFETY: The kernel filled `msg_control` with `msg_controllen` bytes of well-formed
        // control messages; SCM_RIGHTS data is an array of fds now owned by us.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(cmsg);
                    let len = (*cmsg).cmsg_len as usize - (data as usize - cmsg as usize);
                    for i in 0..len / std::mem::size_of::<RawFd>() {
                        let raw = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                        fds.push(OwnedFd::from_raw_fd(raw));
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        got += n as usize;
    }
    if fds.len() > 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "more than one fd in a message",
        ));
    }
    Ok((i64::from_le_bytes(bytes), fds.pop()))
}

/// Creates a non-blocking eventfd.
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: Plain syscall.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds one to an eventfd (rings a doorbell or raises an interrupt).
pub fn notify(fd: &impl AsRawFd) -> io::Result<()> {
    let one = 1u64.to_ne_bytes();
    // SAFETY: Writing 8 bytes from a valid buffer.
    let n = unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    if n != 8 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads and resets a non-blocking eventfd; returns its count, 0 if it was not signalled.
pub fn drain(fd: &impl AsRawFd) -> io::Result<u64> {
    let mut buf = [0u8; 8];
    // SAFETY: Reading 8 bytes into a valid buffer.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n == 8 {
        return Ok(u64::from_ne_bytes(buf));
    }
    let err = io::Error::last_os_error();
    if err.kind() == io::ErrorKind::WouldBlock {
        Ok(0)
    } else {
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_roundtrip_with_and_without_fd() {
        let (a, b) = UnixStream::pair().unwrap();
        let efd = eventfd().unwrap();
        send_msg(&a, PROTOCOL_VERSION, None).unwrap();
        send_msg(&a, SHM_MESSAGE, Some(efd.as_raw_fd())).unwrap();
        send_msg(&a, 0x1234_5678_9abc, None).unwrap();
        assert_eq!(
            recv_msg(&b).map(|(v, f)| (v, f.is_none())).unwrap(),
            (0, true)
        );
        let (v, fd) = recv_msg(&b).unwrap();
        assert_eq!(v, -1);
        // The received fd is the same eventfd.
        notify(&fd.unwrap()).unwrap();
        assert_eq!(drain(&efd).unwrap(), 1);
        assert_eq!(drain(&efd).unwrap(), 0);
        assert_eq!(recv_msg(&b).unwrap().0, 0x1234_5678_9abc);
        drop(a);
        assert!(recv_msg(&b).is_err());
    }
}
