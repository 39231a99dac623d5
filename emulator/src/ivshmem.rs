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
    io::{self, IoSlice, IoSliceMut},
    mem::MaybeUninit,
    os::fd::{AsFd, BorrowedFd, OwnedFd},
    os::unix::net::UnixStream,
};

use rustix::{
    event::EventfdFlags,
    io::Errno,
    net::{
        RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
        SendAncillaryMessage, SendFlags,
    },
};

/// Protocol version the server speaks.
pub const PROTOCOL_VERSION: i64 = 0;
/// Value of the message that carries the shared-memory fd.
pub const SHM_MESSAGE: i64 = -1;

/// How many fds a received message may carry for the receiver to see (and close) them: more
/// than it expects.
const RECV_FDS: usize = 8;

/// Sends one protocol message, with `fd` attached if given.
pub fn send_msg(sock: &UnixStream, value: i64, fd: Option<BorrowedFd<'_>>) -> io::Result<()> {
    let bytes = value.to_le_bytes();
    let iov = [IoSlice::new(&bytes)];
    let fds: Vec<BorrowedFd<'_>> = fd.into_iter().collect();
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let n = loop {
        match rustix::net::sendmsg(sock, &iov, &mut control, SendFlags::NOSIGNAL) {
            Err(Errno::INTR) => continue,
            r => break r?,
        }
    };
    // A stream socket may in principle take part of the message; the fd went with the first
    // byte, so a short write cannot be completed without reordering. Give up.
    if n != bytes.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short write of a message",
        ));
    }
    Ok(())
}

/// Receives one protocol message and the fd attached to it, if any (the client side; the
/// tests use it to play QEMU). Extra fds are closed; a message with more than one fd is an
/// error.
pub fn recv_msg(sock: &UnixStream) -> io::Result<(i64, Option<OwnedFd>)> {
    let mut bytes = [0u8; 8];
    let mut got = 0;
    let mut fds: Vec<OwnedFd> = Vec::new();
    while got < bytes.len() {
        let mut iov = [IoSliceMut::new(&mut bytes[got..])];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(RECV_FDS))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let n = match rustix::net::recvmsg(sock, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Err(Errno::INTR) => continue,
            r => r?.bytes,
        };
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = msg {
                fds.extend(received);
            }
        }
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        got += n;
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
    Ok(rustix::event::eventfd(
        0,
        EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK,
    )?)
}

/// Adds one to an eventfd (rings a doorbell or raises an interrupt).
pub fn notify(fd: &impl AsFd) -> io::Result<()> {
    match rustix::io::write(fd, &1u64.to_ne_bytes())? {
        8 => Ok(()),
        _ => Err(io::Error::from(io::ErrorKind::WriteZero)),
    }
}

/// Reads and resets a non-blocking eventfd; returns its count, 0 if it was not signalled.
pub fn drain(fd: &impl AsFd) -> io::Result<u64> {
    let mut buf = [0u8; 8];
    match rustix::io::read(fd, &mut buf) {
        Ok(8) => Ok(u64::from_ne_bytes(buf)),
        Ok(_) => Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
        Err(Errno::AGAIN) => Ok(0),
        Err(e) => Err(e.into()),
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
        send_msg(&a, SHM_MESSAGE, Some(efd.as_fd())).unwrap();
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
