// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The server side of QEMU's ivshmem protocol.
//!
//! Every message is a little-endian `i64` on the unix socket, optionally with one file
//! descriptor attached (`SCM_RIGHTS`). On connection the server sends: the protocol version
//! (0); the client's peer id; `-1` with the shared-memory fd; then, for every peer and every
//! vector, the peer's id with one eventfd. For the client's own id, QEMU wires the eventfds to
//! its MSI-X vectors (writing one injects the interrupt); for another peer, they are what the
//! guest's doorbell writes to.

use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
    os::unix::net::UnixStream,
};

/// Protocol version the server speaks.
pub const PROTOCOL_VERSION: i64 = 0;

/// Sends one protocol message, with `fd` attached if given.
pub fn send_msg(sock: &UnixStream, value: i64, fd: Option<RawFd>) -> io::Result<()> {
    let bytes = value.to_le_bytes();
    let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
    // Room for one SCM_RIGHTS control message carrying one int, u64-aligned.
    let mut cmsg_buf = [0u64; 4];
    // SAFETY: An all-zero msghdr is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        // SAFETY: CMSG_SPACE only computes a size.
        let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
        assert!(space <= std::mem::size_of_val(&cmsg_buf));
        msg.msg_control = cmsg_buf.as_mut_ptr().cast();
        msg.msg_controllen = space;
        // SAFETY: `msg_control` points to a buffer of `msg_controllen` bytes, large enough for
        // one header and one fd, as checked above.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        }
    }
    // SAFETY: `msg` describes valid buffers for the duration of the call.
    let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != bytes.len() {
        return Err(io::Error::from_raw_os_error(libc::EIO));
    }
    Ok(())
}

/// Receives one protocol message and the fd attached to it, if any (the client side; used
/// by the tests to play QEMU).
pub fn recv_msg(sock: &UnixStream) -> io::Result<(i64, Option<OwnedFd>)> {
    let mut bytes = [0u8; 8];
    let mut iov = libc::iovec { iov_base: bytes.as_mut_ptr().cast(), iov_len: bytes.len() };
    let mut cmsg_buf = [0u64; 4];
    // SAFETY: An all-zero msghdr is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg_buf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cmsg_buf);
    // SAFETY: `msg` describes valid buffers for the duration of the call.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != bytes.len() {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
    }
    let mut fd = None;
    // SAFETY: The kernel filled `msg_control` with well-formed control messages.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if !cmsg.is_null() && (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
            let raw = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
            fd = Some(OwnedFd::from_raw_fd(raw));
        }
    }
    Ok((i64::from_le_bytes(bytes), fd))
}

/// Creates a non-blocking eventfd.
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: Plain syscall.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds one to an eventfd.
pub fn notify(fd: &impl AsRawFd) -> io::Result<()> {
    let one = 1u64.to_ne_bytes();
    // SAFETY: Writing 8 bytes from a valid buffer.
    let n = unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    if n != 8 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads and resets an eventfd; returns the count, 0 if it was not signalled.
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
