// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The event loop: one listening socket per device, doorbell eventfds, client hang-ups.
//!
//! One `poll` over every listener, every attached client's socket (readable means hang-up:
//! QEMU never sends anything) and every doorbell eventfd, on the server's thread. Control
//! doorbells are handled there; queue doorbells wake the queue's own thread.
//!
//! An optional control socket takes fault-injection requests from the host, one per
//! connection: a line `DEVICE FAULT [QUEUE [ARG]]` (see [`crate::fault::Fault::parse`]),
//! answered with `ok` or `error: WHY`.

use std::{
    io::{self, BufRead, BufReader, Read, Write},
    os::unix::fs::{FileTypeExt, MetadataExt},
    os::unix::net::{UnixListener, UnixStream},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use rustix::{
    event::{PollFd, PollFlags, Timespec},
    io::Errno,
    net::RecvFlags,
};

use crate::{device::Device, fault::Fault, health, ivshmem, mem::SharedRam};

/// Configuration of a server.
#[derive(Clone, Debug)]
pub struct Config {
    /// QEMU's guest RAM backend file (`memory-backend-file,mem-path=...,share=on`).
    pub guest_ram: PathBuf,
    /// Guest RAM size, if DMA is to be bounded below the file size.
    pub ram_size: Option<u64>,
    /// One listening socket per device; the index is the device's `INSTANCE`.
    pub sockets: Vec<PathBuf>,
    /// Size of each device's shared region (BAR2).
    pub shm_size: usize,
    /// Doorbell and interrupt vectors per device.
    pub vectors: usize,
    /// The control socket for fault injection from the host, if any.
    pub control: Option<PathBuf>,
}

/// A bound listening socket, removed again on drop if it is still ours.
struct Listener {
    sock: UnixListener,
    path: PathBuf,
    id: (u64, u64),
}

impl Listener {
    fn bind(path: &Path) -> io::Result<Self> {
        let ctx = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_socket() => {
                if UnixStream::connect(path).is_ok() {
                    return Err(ctx(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        "a server is already listening there",
                    )));
                }
                // A stale socket of a previous run.
                std::fs::remove_file(path).map_err(ctx)?;
            }
            Ok(_) => {
                return Err(ctx(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "exists and is not a socket",
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(ctx(e)),
        }
        let sock = UnixListener::bind(path).map_err(ctx)?;
        let m = std::fs::symlink_metadata(path).map_err(ctx)?;
        let l = Self {
            sock,
            path: path.to_path_buf(),
            id: (m.dev(), m.ino()),
        };
        l.sock.set_nonblocking(true).map_err(ctx)?;
        Ok(l)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if (m.dev(), m.ino()) == self.id {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// The emulator: devices and their sockets.
pub struct Server {
    devices: Vec<Device>,
    listeners: Vec<Listener>,
    control: Option<Listener>,
    ram: Arc<SharedRam>,
}

/// What a poll entry refers to.
#[derive(Clone, Copy, Debug)]
enum Source {
    Listener(usize),
    Client(usize),
    Doorbell(usize, usize),
    Control,
}

/// How long the handshake may block on a client that does not read.
const SEND_TIMEOUT: Duration = Duration::from_secs(2);

impl Server {
    /// Creates the devices and binds their sockets. On error, sockets bound so far are
    /// removed again.
    pub fn new(cfg: &Config) -> io::Result<Self> {
        let mut devices = Vec::new();
        let mut listeners = Vec::new();
        let ram = Arc::new(SharedRam::file(&cfg.guest_ram, cfg.ram_size));
        for (i, path) in cfg.sockets.iter().enumerate() {
            let instance =
                u32::try_from(i).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            devices.push(Device::new(
                instance,
                cfg.shm_size,
                cfg.vectors,
                ram.clone(),
            )?);
            listeners.push(Listener::bind(path)?);
        }
        let control = cfg.control.as_deref().map(Listener::bind).transpose()?;
        Ok(Self {
            devices,
            listeners,
            control,
            ram,
        })
    }

    /// Paths of the listening sockets, in device order.
    pub fn socket_paths(&self) -> Vec<&Path> {
        self.listeners.iter().map(|l| l.path.as_path()).collect()
    }

    /// Runs until `stop` is set (checked at least every 100 ms and after every signal).
    pub fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        // The poll timeout bounds how late a stop request is seen and how late the sensors
        // are updated.
        let timeout = Timespec::try_from(health::UPDATE_INTERVAL)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut srcs = Vec::new();
        let mut ready = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            srcs.clear();
            let mut fds = Vec::new();
            for (i, l) in self.listeners.iter().enumerate() {
                fds.push(PollFd::new(&l.sock, PollFlags::IN));
                srcs.push(Source::Listener(i));
            }
            if let Some(l) = &self.control {
                fds.push(PollFd::new(&l.sock, PollFlags::IN));
                srcs.push(Source::Control);
            }
            for (i, d) in self.devices.iter().enumerate() {
                if let Some(c) = &d.client {
                    fds.push(PollFd::new(&c.sock, PollFlags::IN));
                    srcs.push(Source::Client(i));
                    for (v, fd) in c.doorbells.iter().enumerate() {
                        fds.push(PollFd::new(fd, PollFlags::IN));
                        srcs.push(Source::Doorbell(i, v));
                    }
                }
            }
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Ok(_) => {}
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
            // The descriptors are borrowed from `self` until here.
            ready.clear();
            ready.extend(fds.iter().map(|p| !p.revents().is_empty()));
            drop(fds);
            for d in &mut self.devices {
                d.tick();
            }
            // Doorbells first, then hang-ups, then new clients: a doorbell rung just before
            // a client went away is still served, and indices stay valid.
            for pass in 0..3 {
                for (&ready, src) in ready.iter().zip(&srcs) {
                    if !ready {
                        continue;
                    }
                    match (pass, *src) {
                        (0, Source::Doorbell(i, v)) => self.doorbell(i, v),
                        (1, Source::Client(i)) => self.client_event(i),
                        (2, Source::Listener(i)) => self.accept(i),
                        (2, Source::Control) => self.control(),
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    fn accept(&mut self, i: usize) {
        let sock = match self.listeners[i].sock.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => {
                eprintln!("gaudi-emu{i}: accept: {e}");
                return;
            }
        };
        let dev = &mut self.devices[i];
        if dev.client.is_some() {
            eprintln!("gaudi-emu{i}: refusing a second client while one is attached");
            return;
        }
        if let Err(e) = sock.set_write_timeout(Some(SEND_TIMEOUT)) {
            eprintln!("gaudi-emu{i}: {e}");
            return;
        }
        // A new QEMU may come with a new guest RAM file.
        self.ram.invalidate();
        match dev.attach(sock) {
            Ok(()) => eprintln!(
                "gaudi-emu{i}: client attached ({} vectors, {} MiB shared)",
                dev.vectors,
                dev.shm.len() >> 20
            ),
            Err(e) => {
                eprintln!("gaudi-emu{i}: handshake failed: {e}");
                dev.detach();
            }
        }
    }

    /// Serves one control connection: reads its request line, injects, answers.
    fn control(&mut self) {
        let Some(l) = &self.control else {
            return;
        };
        let sock = match l.sock.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => {
                eprintln!("gaudi-emu: control socket: {e}");
                return;
            }
        };
        let answer = match self.control_request(&sock) {
            Ok(()) => "ok\n".to_string(),
            Err(e) => format!("error: {e}\n"),
        };
        let _ = (&sock).write_all(answer.as_bytes());
    }

    fn control_request(&mut self, sock: &UnixStream) -> Result<(), String> {
        sock.set_nonblocking(false)
            .and_then(|()| sock.set_read_timeout(Some(SEND_TIMEOUT)))
            .and_then(|()| sock.set_write_timeout(Some(SEND_TIMEOUT)))
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        BufReader::new(sock.take(256))
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let (dev, fault) = words.split_first().ok_or("empty request")?;
        let dev: usize = dev.parse().map_err(|_| format!("bad device `{dev}`"))?;
        let fault = Fault::parse(fault)?;
        let dev = self
            .devices
            .get_mut(dev)
            .ok_or_else(|| format!("no device {dev}"))?;
        dev.inject(fault).map_err(|e| e.to_string())
    }

    fn client_event(&mut self, i: usize) {
        let dev = &mut self.devices[i];
        let Some(c) = dev.client.as_ref() else {
            return;
        };
        // QEMU never sends anything after connecting: readable means hang-up. Anything else
        // is read and dropped (with any fds it carries: no control buffer is given).
        let mut buf = [0u8; 4096];
        match rustix::net::recv(&c.sock, &mut buf, RecvFlags::DONTWAIT) {
            Ok((n, _)) if n > 0 => {
                eprintln!("gaudi-emu{i}: ignoring {n} unexpected bytes from the client");
                return;
            }
            Ok(_) => {}
            Err(Errno::AGAIN | Errno::INTR) => return,
            Err(e) => eprintln!("gaudi-emu{i}: client socket: {}", io::Error::from(e)),
        }
        eprintln!("gaudi-emu{i}: client detached");
        dev.detach();
    }

    fn doorbell(&mut self, i: usize, v: usize) {
        let dev = &mut self.devices[i];
        let rings = match dev
            .client
            .as_ref()
            .and_then(|c| c.doorbells.get(v))
            .map(ivshmem::drain)
        {
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                eprintln!("gaudi-emu{i}: doorbell {v}: {e}");
                0
            }
            None => 0,
        };
        if rings == 0 {
            return;
        }
        for irq in dev.handle_doorbell(v, rings) {
            if let Err(e) = dev.raise(irq) {
                eprintln!("gaudi-emu{i}: raising vector {irq}: {e}");
            }
        }
    }
}
