// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The event loop: one listening socket per device, doorbell eventfds, client hang-ups.

use std::{
    io,
    os::fd::AsRawFd,
    os::unix::net::UnixListener,
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
};

use crate::{device::Device, ivshmem, mem::GuestRam};

/// Configuration of a server.
pub struct Config {
    pub guest_ram: PathBuf,
    pub sockets: Vec<PathBuf>,
    pub shm_size: usize,
    pub vectors: usize,
}

/// The emulator: devices and their sockets.
pub struct Server {
    devices: Vec<Device>,
    listeners: Vec<UnixListener>,
    paths: Vec<PathBuf>,
    ram: GuestRam,
}

/// What a poll entry refers to.
#[derive(Clone, Copy)]
enum Source {
    Listener(usize),
    Client(usize),
    Doorbell(usize, usize),
}

impl Server {
    /// Creates the devices and binds their sockets.
    pub fn new(cfg: &Config) -> io::Result<Self> {
        let mut devices = Vec::new();
        let mut listeners = Vec::new();
        for (i, path) in cfg.sockets.iter().enumerate() {
            devices.push(Device::new(i as u32, cfg.shm_size, cfg.vectors)?);
            let _ = std::fs::remove_file(path);
            let l = UnixListener::bind(path)?;
            l.set_nonblocking(true)?;
            listeners.push(l);
        }
        Ok(Self {
            devices,
            listeners,
            paths: cfg.sockets.clone(),
            ram: GuestRam::new(&cfg.guest_ram),
        })
    }

    /// Runs until `stop` is set.
    pub fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        while !stop.load(Ordering::Relaxed) {
            let mut fds = Vec::new();
            let mut srcs = Vec::new();
            for (i, l) in self.listeners.iter().enumerate() {
                fds.push(pollfd(l.as_raw_fd()));
                srcs.push(Source::Listener(i));
            }
            for (i, d) in self.devices.iter().enumerate() {
                if let Some(c) = &d.client {
                    fds.push(pollfd(c.sock.as_raw_fd()));
                    srcs.push(Source::Client(i));
                    for (v, fd) in c.doorbells.iter().enumerate() {
                        fds.push(pollfd(fd.as_raw_fd()));
                        srcs.push(Source::Doorbell(i, v));
                    }
                }
            }
            // SAFETY: `fds` is a valid array of `fds.len()` pollfds.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 200) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for (pfd, src) in fds.iter().zip(srcs) {
                if pfd.revents == 0 {
                    continue;
                }
                match src {
                    Source::Listener(i) => self.accept(i),
                    Source::Client(i) => self.client_event(i),
                    Source::Doorbell(i, v) => self.doorbell(i, v),
                }
            }
        }
        Ok(())
    }

    fn accept(&mut self, i: usize) {
        let sock = match self.listeners[i].accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => {
                eprintln!("gaudi-emu{i}: accept: {e}");
                return;
            }
        };
        let dev = &mut self.devices[i];
        if dev.client.is_some() {
            eprintln!("gaudi-emu{i}: refusing a second client");
            return;
        }
        match dev.attach(sock) {
            Ok(()) => eprintln!("gaudi-emu{i}: client attached"),
            Err(e) => {
                eprintln!("gaudi-emu{i}: handshake failed: {e}");
                dev.detach();
            }
        }
    }

    fn client_event(&mut self, i: usize) {
        // The client never sends anything after the handshake: readable means hang-up.
        let dev = &mut self.devices[i];
        let mut buf = [0u8; 64];
        let n = dev.client.as_ref().map_or(0, |c| {
            // SAFETY: Reading into a valid buffer.
            unsafe { libc::recv(c.sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) }
        });
        if n <= 0 {
            eprintln!("gaudi-emu{i}: client detached");
            dev.detach();
        }
    }

    fn doorbell(&mut self, i: usize, v: usize) {
        let dev = &mut self.devices[i];
        let rang = match dev.client.as_ref().map(|c| ivshmem::drain(&c.doorbells[v])) {
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                eprintln!("gaudi-emu{i}: doorbell {v}: {e}");
                0
            }
            None => 0,
        };
        if rang == 0 {
            return;
        }
        for irq in dev.handle_doorbell(v, &mut self.ram) {
            if let Err(e) = dev.raise(irq) {
                eprintln!("gaudi-emu{i}: raising vector {irq}: {e}");
            }
        }
    }

    /// Paths of the listening sockets.
    pub fn socket_paths(&self) -> &[PathBuf] {
        &self.paths
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for p in &self.paths {
            let _ = std::fs::remove_file(Path::new(p));
        }
    }
}

fn pollfd(fd: i32) -> libc::pollfd {
    libc::pollfd { fd, events: libc::POLLIN, revents: 0 }
}
