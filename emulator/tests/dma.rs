// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The DMA engine: copies and fills across pages, guest RAM and device memory, overlapping
//! copies, and its faults.

mod common;

use common::{pkt, *};
use gaudi_emu::hw::{mmu, queue as hwq};

/// ASID 1 maps `PAGES` pages at `UVA` to guest RAM from `SCATTER` in reverse page order, so
/// that virtually contiguous buffers are physically scattered.
const UVA: u64 = 0x10_0000;
const PAGES: u64 = 128;
const SCATTER: u64 = DATA;

fn upa(va: u64) -> u64 {
    let page = (va - UVA) / 4096;
    SCATTER + (PAGES - 1 - page) * 4096 + (va - UVA) % 4096
}

fn rig() -> Rig {
    let mut rig = Rig::new();
    for p in 0..PAGES {
        rig.map(
            1,
            UVA + p * 4096,
            upa(UVA + p * 4096),
            mmu::PAGE_SIZE,
            false,
        );
    }
    rig.set_ctx(1, true);
    rig.enable(0, RING_SIZE);
    rig
}

/// Runs `ib` (packets) in ASID 1 through an indirect buffer in RAM.
fn run_user(rig: &mut Rig, ib: &[u32]) {
    let ib_pa = DATA + (8 << 20);
    rig.map_pages(1, 0x7000_0000, ib_pa, 0x1000, true);
    rig.write(ib_pa, &bytes(ib));
    rig.run(0, &pkt::indirect(1, 0x7000_0000, ib.len() as u32 * 4));
}

/// The user buffer as the driver sees it, `len` bytes at `va`.
fn user_read(rig: &Rig, va: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let end = va + len as u64;
    let mut at = va;
    while at < end {
        let n = (4096 - at % 4096).min(end - at);
        out.extend(rig.read(upa(at), n as usize));
        at += n;
    }
    out
}

fn user_fill_random(rig: &Rig, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let data: Vec<u8> = (0..PAGES * 4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    for p in 0..PAGES {
        let page = &data[(p * 4096) as usize..((p + 1) * 4096) as usize];
        rig.write(upa(UVA + p * 4096), page);
    }
    data
}

#[test]
fn copies_of_any_size_and_alignment_across_scattered_pages() {
    let mut rig = rig();
    let sizes = [0u64, 1, 3, 8, 4095, 4096, 4097, 3 * 4096 + 5, 70_001];
    let offsets = [0u64, 1, 7, 4093];
    let mut model = user_fill_random(&rig, 1);
    let mut packets = Vec::new();
    let mut dst = 100 * 1024;
    for (i, &size) in sizes.iter().enumerate() {
        let src = offsets[i % 4] + (i as u64) * 5000;
        let d = dst + offsets[(i + 1) % 4];
        packets.extend(pkt::dma(UVA + src, UVA + d, size));
        model.copy_within(src as usize..(src + size) as usize, d as usize);
        dst += size + 8192;
        assert!(dst < PAGES * 4096);
    }
    run_user(&mut rig, &packets);
    assert!(user_read(&rig, UVA, model.len()) == model, "copies differ");
}

#[test]
fn overlapping_copies_behave_like_memmove() {
    let mut rig = rig();
    let mut model = user_fill_random(&rig, 2);
    // Overlaps from above and from below, across page boundaries, by small and large
    // distances; and an exact overlap.
    let cases = [
        (4000u64, 4001u64, 9000u64),
        (20_000, 19_999, 9000),
        (40_000, 40_000 + 4096 * 2 + 3, 4096 * 5),
        (100_000, 100_000 - 4096 - 1, 4096 * 3 + 77),
        (150_000, 150_000, 5000),
    ];
    for (src, dst, size) in cases {
        run_user(&mut rig, &pkt::dma(UVA + src, UVA + dst, size));
        model.copy_within(src as usize..(src + size) as usize, dst as usize);
        assert!(
            user_read(&rig, UVA, model.len()) == model,
            "copy {src} -> {dst} ({size})"
        );
    }
}

#[test]
fn fills() {
    let mut rig = rig();
    let mut model = user_fill_random(&rig, 3);
    let cases = [
        (5u64, 3u64, 0x0403_0201u32),
        (4093, 9000, 0x0403_0201),
        (20_001, 1, 0xaabb_ccdd),
        (30_000, 0, 0x1111_1111),
        (40_003, 12_345, 0xabab_abab),
    ];
    for (dst, size, pattern) in cases {
        run_user(&mut rig, &pkt::fill(UVA + dst, size, pattern));
        for k in 0..size {
            model[(dst + k) as usize] = pattern.to_le_bytes()[(k % 4) as usize];
        }
    }
    assert!(user_read(&rig, UVA, model.len()) == model, "fills differ");
}

#[test]
fn between_guest_ram_and_device_memory() {
    let mut rig = rig();
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    rig.write(DATA + (4 << 20) + 3, &data);
    // RAM -> device memory -> device memory -> RAM, through ASID 0.
    rig.run(
        0,
        &pkt::cat(&[
            pkt::dma(KVA + DATA + (4 << 20) + 3, KVA_DEV + 1, data.len() as u64),
            pkt::dma(KVA_DEV + 1, KVA_DEV + 200_001, data.len() as u64),
            pkt::dma(
                KVA_DEV + 200_001,
                KVA + DATA + (5 << 20) + 5,
                data.len() as u64,
            ),
            pkt::fill(KVA_DEV + 999_999, 10, 0x0102_0304),
        ]),
    );
    assert!(rig.dev_read(1, data.len()) == data);
    assert!(rig.dev_read(200_001, data.len()) == data);
    assert!(rig.read(DATA + (5 << 20) + 5, data.len()) == data);
    assert_eq!(rig.dev_read(999_999, 10), [4, 3, 2, 1, 4, 3, 2, 1, 4, 3]);
}

#[test]
fn faults_name_the_first_failing_address() {
    let mut rig = rig();
    // The user mapping ends at UVA + PAGES pages: a copy running into the hole faults
    // there, after copying what came before.
    let end = UVA + PAGES * 4096;
    let ring_info = |access, engine| hwq::err_info(0, access, engine);
    let err = rig.fail(0, &pkt::dma(KVA + DATA + (4 << 20), KVA + 0x1000_0000, 16));
    assert_eq!(
        (err.0, err.1, err.3),
        (
            hwq::ERR_MMU_FAULT,
            KVA + 0x1000_0000,
            ring_info(hwq::ACCESS_WRITE, hwq::ENGINE_DMA)
        )
    );
    rig.reset(0, rig.tail(0));

    // Bus errors: a page mapped beyond guest RAM, a page mapped onto the register file.
    rig.map(0, 0x30_0000_0000, RAM_SIZE, mmu::PAGE_SIZE, false);
    rig.map(0, 0x30_0000_1000, BAR2, mmu::PAGE_SIZE, false);
    rig.map(0, 0x30_0000_2000, BAR2 + (4 << 20), mmu::PAGE_SIZE, false);
    for va in [0x30_0000_0000, 0x30_0000_1000, 0x30_0000_2000] {
        let err = rig.fail(0, &pkt::dma(va + 5, KVA + DATA, 16));
        let want = (
            hwq::ERR_BUS,
            va + 5,
            ring_info(hwq::ACCESS_READ, hwq::ENGINE_DMA),
        );
        assert_eq!((err.0, err.1, err.3), want, "va {va:#x}");
        rig.reset(0, rig.tail(0));
    }
    // The last mapped user page to the hole behind it.
    let ib_va = 0x7000_0000;
    let ib = pkt::dma(UVA, end - 100, 300);
    rig.map_pages(1, ib_va, DATA + (8 << 20), 0x1000, true);
    rig.write(DATA + (8 << 20), &bytes(&ib));
    let before = user_read(&rig, UVA, 100);
    let err = rig.fail(0, &pkt::indirect(1, ib_va, 32));
    let info = hwq::err_info(1, hwq::ACCESS_WRITE, hwq::ENGINE_DMA);
    assert_eq!(err, (hwq::ERR_MMU_FAULT, end, ib_va, info));
    assert_eq!(user_read(&rig, end - 100, 100), before);
    rig.reset(0, rig.tail(0));
    // A fill into a read-only page.
    let err = rig.fail(0, &pkt::fill(KVA + 0x7000_0000, 8, 0));
    assert_eq!(err.0, hwq::ERR_MMU_FAULT);
}

#[test]
fn malformed_dma_packets() {
    let mut rig = rig();
    let mut reserved = pkt::dma(KVA + DATA, KVA + DATA + 64, 8);
    reserved[1] = 1;
    for bad in [
        reserved,
        // The fill pattern is 32 bits.
        pkt::fill(KVA + DATA, 8, 0)
            .iter()
            .enumerate()
            .map(|(i, &w)| if i == 3 { 1 } else { w })
            .collect(),
        // Ranges that wrap around the address space.
        pkt::dma(u64::MAX - 4, KVA + DATA, 8),
        pkt::dma(KVA + DATA, u64::MAX - 4, 8),
        pkt::fill(u64::MAX - 4, 8, 0),
    ] {
        let err = rig.fail(0, &bad);
        assert_eq!(err.0, hwq::ERR_BAD_PACKET, "{bad:x?}");
        rig.reset(0, rig.tail(0));
    }
}

/// Bandwidth of large copies against the host's `memmove` of the same memory. Run it with
/// `cargo test --release -p gaudi-emu --test dma -- --ignored --nocapture`; in a release
/// build it asserts at least half the host's bandwidth, with 2 MiB blocks and with pages.
#[test]
#[ignore = "a benchmark: run it in a release build"]
fn bandwidth() {
    const SIZE: u64 = 16 << 20;
    const REPS: usize = 8;
    let src = DATA + (8 << 20);
    let dst = DATA + (32 << 20);
    let mut rig = rig();
    // ASID 1 sees the same memory through pages.
    let (usrc, udst) = (0x1_0000_0000, 0x2_0000_0000);
    rig.map_pages(1, usrc, src, SIZE, false);
    rig.map_pages(1, udst, dst, SIZE, false);
    rig.set_ctx(1, true);
    let ib_pa = DATA + (30 << 20);
    rig.map_pages(1, 0x7000_0000, ib_pa, 0x1000, true);
    rig.write(src, &vec![0x5a; SIZE as usize]);
    rig.write(dst, &vec![0xa5; SIZE as usize]);

    let t = std::time::Instant::now();
    for _ in 0..REPS {
        gaudi_emu::mem::Mapping::copy(
            &rig.ram,
            src as usize,
            &rig.ram,
            dst as usize,
            SIZE as usize,
        )
        .unwrap();
    }
    let host = (REPS as u64 * SIZE) as f64 / t.elapsed().as_secs_f64() / 1e9;

    let blocks: Vec<u32> = (0..REPS)
        .flat_map(|_| pkt::dma(KVA + src, KVA + dst, SIZE))
        .collect();
    rig.run(0, &blocks);
    let t = std::time::Instant::now();
    rig.run(0, &blocks);
    let dev_blocks = (REPS as u64 * SIZE) as f64 / t.elapsed().as_secs_f64() / 1e9;

    let pages: Vec<u32> = (0..REPS).flat_map(|_| pkt::dma(usrc, udst, SIZE)).collect();
    rig.write(ib_pa, &bytes(&pages));
    let ib = pkt::indirect(1, 0x7000_0000, pages.len() as u32 * 4);
    rig.run(0, &ib);
    let t = std::time::Instant::now();
    rig.run(0, &ib);
    let dev_pages = (REPS as u64 * SIZE) as f64 / t.elapsed().as_secs_f64() / 1e9;

    assert!(rig.read(dst, SIZE as usize).iter().all(|&b| b == 0x5a));
    eprintln!(
        "memmove {host:.2} GB/s; DMA with 2 MiB blocks {dev_blocks:.2} GB/s ({:.2}x), with \
         4 KiB pages {dev_pages:.2} GB/s ({:.2}x)",
        dev_blocks / host,
        dev_pages / host
    );
    if cfg!(not(debug_assertions)) {
        assert!(dev_blocks >= 0.5 * host && dev_pages >= 0.5 * host);
    }
}
