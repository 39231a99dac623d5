// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Hardware queues: fetching from rings, NOP/FENCE/WAIT/INDIRECT, error reporting, reset and
//! resume, concurrency between queues, and the client life cycle.

mod common;

use std::time::Duration;

use common::{pkt, *};
use gaudi_emu::hw::{mmu, packet, queue as hwq, regs};

const FENCE_PA: u64 = DATA;

#[test]
fn reset_state_of_a_new_client() {
    let rig = Rig::new();
    assert_eq!(rig.shm.read32(regs::VERSION), regs::VERSION_VALUE);
    assert_eq!(rig.shm.read32(regs::NUM_QUEUES), 4);
    assert_eq!(rig.shm.read32(regs::NUM_VECTORS), VECTORS as u32);
    assert_eq!(rig.shm.read32(regs::NUM_ASIDS), 64);
    assert_eq!(rig.shm.read32(regs::VA_BITS), 48);
    assert_eq!(rig.shm.read32(regs::PA_BITS), 48);
    for q in 0..4 {
        assert_eq!(rig.reg(q, hwq::Q_STATUS), hwq::Q_STATUS_DISABLED);
        assert_eq!(rig.reg(q, hwq::Q_HEAD), 0);
    }
}

#[test]
fn nop_and_fence_with_interrupt() {
    let mut rig = Rig::new();
    rig.enable(0, RING_SIZE);
    rig.idle(0);
    let before = rig.pkt_count();
    let words = pkt::cat(&[
        pkt::nop(2),
        pkt::nop(10),
        pkt::fence(KVA + FENCE_PA, 0x1234_5678_9abc_def0, false),
        pkt::fence(KVA + FENCE_PA + 8, 7, true),
    ]);
    rig.run(0, &words);
    assert_eq!(rig.read_u64(FENCE_PA), 0x1234_5678_9abc_def0);
    assert_eq!(rig.read_u64(FENCE_PA + 8), 7);
    assert_eq!(rig.wait_irq(regs::vector_queue(0)), 1);
    assert_eq!(rig.irqs(regs::VECTOR_ERROR), 0);
    assert_eq!(rig.pkt_count().wrapping_sub(before), 4);
    assert_eq!(rig.reg(0, hwq::Q_HEAD), words.len() as u32 * 4);
    // Fences into device memory too.
    rig.run(0, &pkt::fence(KVA_DEV + 0x100, 99, false));
    assert_eq!(rig.dev_read(0x100, 8), 99u64.to_le_bytes());
}

#[test]
fn ring_wraps_around_its_end() {
    let mut rig = Rig::new();
    rig.enable(1, 4096);
    // 24-byte fences do not divide 4096: packets straddle the end of the ring.
    for round in 0..600u64 {
        rig.submit(1, &pkt::fence(KVA + FENCE_PA, round, false));
        if round % 50 == 0 {
            rig.idle(1);
            assert_eq!(rig.read_u64(FENCE_PA), round);
        }
    }
    rig.idle(1);
    assert_eq!(rig.read_u64(FENCE_PA), 599);
    assert_eq!(rig.reg(1, hwq::Q_HEAD), 600 * 24);
}

#[test]
fn disabled_queue_does_nothing_until_enabled() {
    let mut rig = Rig::new();
    rig.enable(2, RING_SIZE);
    rig.shm.write32(q_reg(2, hwq::Q_CTRL), 0);
    rig.submit(2, &pkt::fence(KVA + FENCE_PA, 5, false));
    rig.wait_status(2, "disabled", |r| {
        r.reg(2, hwq::Q_STATUS) == hwq::Q_STATUS_DISABLED
    });
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(rig.read_u64(FENCE_PA), 0);
    rig.shm.write32(q_reg(2, hwq::Q_CTRL), hwq::Q_CTRL_ENABLE);
    rig.doorbell(2);
    rig.idle(2);
    assert_eq!(rig.read_u64(FENCE_PA), 5);
}

/// Checks the error registers of queue `q` and the error interrupt.
fn check_error(rig: &Rig, q: u32, got: (u32, u64, u64, u32), want: (u32, u64, u64, u32)) {
    assert_eq!(
        got, want,
        "(code, addr, pkt, info) of queue {q}: got {got:#x?}, want {want:#x?}"
    );
    assert_eq!(rig.reg(q, hwq::Q_STATUS), hwq::Q_STATUS_ERROR);
    assert_ne!(rig.shm.read32(regs::ERR_QUEUES) & (1 << q), 0);
    assert_eq!(rig.wait_irq(regs::VECTOR_ERROR), 1);
}

#[test]
fn bad_packets_stop_the_queue_and_reset_resumes() {
    let mut rig = Rig::new();
    let q = 3;
    rig.enable(q, RING_SIZE);
    let ring = KVA + ring_pa(q);
    let info = hwq::err_info(0, 0, hwq::ENGINE_QUEUE);
    let mut bad_fence = pkt::fence(KVA + FENCE_PA, 1, false);
    bad_fence[1] = 1;
    let mut odd = pkt::nop(2);
    odd[0] = packet::header(packet::OP_NOP, 0, 3);
    let mut zero_len = pkt::nop(2);
    zero_len[0] = packet::header(packet::OP_NOP, 0, 0);
    let mut short = pkt::fence(KVA + FENCE_PA, 1, false);
    short[0] = packet::header(packet::OP_FENCE, 0, 4);
    short.truncate(4);
    let mut flags = pkt::fence(KVA + FENCE_PA, 1, false);
    flags[0] = packet::header(packet::OP_FENCE, 0x80, packet::FENCE_LEN);
    let misaligned = pkt::fence(KVA + FENCE_PA + 4, 1, false);
    let cases: Vec<(Vec<u32>, u32)> = vec![
        (vec![packet::header(0x7f, 0, 2), 0], hwq::ERR_BAD_OPCODE),
        (bad_fence, hwq::ERR_BAD_PACKET),
        (odd, hwq::ERR_BAD_PACKET),
        (zero_len, hwq::ERR_BAD_PACKET),
        (short, hwq::ERR_BAD_PACKET),
        (flags, hwq::ERR_BAD_PACKET),
        (misaligned, hwq::ERR_BAD_PACKET),
    ];
    let mut value = 0;
    for (bad, code) in cases {
        let head = rig.tail(q);
        let pkts_before = rig.pkt_count();
        // A good packet, the bad one, and a good one after it.
        rig.submit(q, &pkt::fence(KVA + FENCE_PA, value + 1, false));
        rig.write_ring(q, &bad);
        let bad_end = rig.tail(q);
        rig.write_ring(q, &pkt::fence(KVA + FENCE_PA, value + 2, false));
        rig.kick(q);
        let err = rig.error(q);
        check_error(&rig, q, err, (code, 0, ring + u64::from(head + 24), info));
        assert_eq!(
            rig.reg(q, hwq::Q_HEAD),
            head + 24,
            "head at the failed packet"
        );
        assert_eq!(rig.read_u64(FENCE_PA), value + 1);
        assert_eq!(rig.pkt_count().wrapping_sub(pkts_before), 1);
        // Another doorbell does not restart a queue in error.
        rig.doorbell(q);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(rig.reg(q, hwq::Q_STATUS), hwq::Q_STATUS_ERROR);
        // Reset past the bad packet: the error is gone, the rest runs.
        rig.reset(q, bad_end);
        assert_eq!(rig.wait_irq(regs::vector_queue(q)), 1);
        rig.idle(q);
        assert_eq!(rig.read_u64(FENCE_PA), value + 2);
        assert_eq!(rig.shm.read32(regs::ERR_QUEUES), 0);
        for r in [hwq::Q_ERR_CODE, hwq::Q_ERR_INFO] {
            assert_eq!(rig.reg(q, r), 0);
        }
        assert_eq!(rig.reg64(q, hwq::Q_ERR_ADDR), 0);
        assert_eq!(rig.reg64(q, hwq::Q_ERR_PKT), 0);
        value += 2;
    }
    assert_eq!(rig.irqs(regs::VECTOR_ERROR), 0);
}

#[test]
fn bad_ring_configuration() {
    let mut rig = Rig::new();
    rig.enable(0, 3000);
    rig.submit(0, &pkt::nop(2));
    let err = rig.error(0);
    let info = hwq::err_info(0, 0, hwq::ENGINE_QUEUE);
    check_error(&rig, 0, err, (hwq::ERR_BAD_RING, 0, KVA + ring_pa(0), info));
    rig.shm.write32(q_reg(0, hwq::Q_SIZE), 4096);
    rig.reset(0, 0);
    rig.idle(0);
    // A tail that is not 8-aligned, or further than the ring size from the head, is seen
    // when the reset makes the queue look at its ring again.
    for tail in [4, 8192] {
        rig.shm.write32(q_reg(0, hwq::Q_TAIL), tail);
        rig.reset(0, 0);
        assert_eq!(rig.error(0).0, hwq::ERR_BAD_RING, "tail {tail}");
    }
    // A packet longer than what the driver published.
    rig.write(ring_pa(0), &bytes(&pkt::fence(KVA + FENCE_PA, 1, false)));
    rig.shm.write32(q_reg(0, hwq::Q_TAIL), 16);
    rig.reset(0, 0);
    assert_eq!(rig.error(0).0, hwq::ERR_BAD_PACKET);
}

#[test]
fn ring_in_unmapped_memory_faults() {
    let mut rig = Rig::new();
    let q = 1;
    rig.shm.write64(q_reg(q, hwq::Q_BASE), 0x7000_0000_0000);
    rig.shm.write32(q_reg(q, hwq::Q_SIZE), 4096);
    rig.shm.write32(q_reg(q, hwq::Q_TAIL), 8);
    rig.shm.write32(q_reg(q, hwq::Q_CTRL), hwq::Q_CTRL_ENABLE);
    rig.doorbell(q);
    let err = rig.error(q);
    let info = hwq::err_info(0, hwq::ACCESS_READ, hwq::ENGINE_QUEUE);
    let va = 0x7000_0000_0000;
    check_error(&rig, q, err, (hwq::ERR_MMU_FAULT, va, va, info));
    // ASID 0 invalid: even the ring faults.
    rig.set_ctx(0, false);
    rig.shm.write32(q_reg(q, hwq::Q_SIZE), RING_SIZE);
    rig.shm.write64(q_reg(q, hwq::Q_BASE), KVA + ring_pa(q));
    rig.reset(q, 0);
    let err = rig.error(q);
    assert_eq!((err.0, err.1), (hwq::ERR_MMU_FAULT, KVA + ring_pa(q)));
}

/// An indirect buffer of ASID 1 at user VA `IB_VA` (RAM `IB_PA`).
const IB_VA: u64 = 0x1_0000;
const IB_PA: u64 = DATA + (1 << 20);
const USER_DATA_VA: u64 = 0x80_0000;
const USER_DATA_PA: u64 = DATA + (2 << 20);

fn user_rig() -> Rig {
    let mut rig = Rig::new();
    rig.map_pages(1, IB_VA, IB_PA, 0x4000, true);
    rig.map_pages(1, USER_DATA_VA, USER_DATA_PA, 0x4000, false);
    rig.map_pages(
        1,
        USER_DATA_VA + 0x4000,
        USER_DATA_PA + 0x4000,
        0x1000,
        true,
    );
    rig.set_ctx(1, true);
    rig.enable(0, RING_SIZE);
    rig
}

#[test]
fn indirect_buffers_run_in_their_address_space() {
    let mut rig = user_rig();
    let ib = pkt::cat(&[
        pkt::nop(4),
        pkt::fence(USER_DATA_VA, 11, false),
        pkt::dma(USER_DATA_VA, USER_DATA_VA + 8, 8),
    ]);
    rig.write(IB_PA, &bytes(&ib));
    let before = rig.pkt_count();
    rig.run(
        0,
        &pkt::cat(&[
            pkt::indirect(1, IB_VA, ib.len() as u32 * 4),
            pkt::fence(KVA + FENCE_PA, 1, true),
        ]),
    );
    assert_eq!(rig.read_u64(USER_DATA_PA), 11);
    assert_eq!(rig.read_u64(USER_DATA_PA + 8), 11);
    assert_eq!(rig.read_u64(FENCE_PA), 1);
    // Three packets in the buffer, the INDIRECT and the fence.
    assert_eq!(rig.pkt_count().wrapping_sub(before), 5);
    assert_eq!(rig.wait_irq(regs::vector_queue(0)), 1);
}

#[test]
fn indirect_errors() {
    let mut rig = user_rig();
    let ring = KVA + ring_pa(0);
    let ring_info = hwq::err_info(0, 0, hwq::ENGINE_QUEUE);
    let ib_info = hwq::err_info(1, 0, hwq::ENGINE_QUEUE);

    // Bad ASIDs: out of range, or a context that is not valid. Q_ERR_ADDR names it.
    for asid in [2, 64, 0xffff_ffff] {
        let head = rig.tail(0);
        let err = rig.fail(0, &pkt::indirect(asid, IB_VA, 8));
        let want = (
            hwq::ERR_BAD_ASID,
            u64::from(asid),
            ring + u64::from(head),
            ring_info,
        );
        check_error(&rig, 0, err, want);
        rig.reset(0, rig.tail(0));
    }
    // Malformed INDIRECTs.
    let mut reserved = pkt::indirect(1, IB_VA, 8);
    reserved[5] = 1;
    for bad in [
        pkt::indirect(1, IB_VA + 4, 8),
        pkt::indirect(1, IB_VA, 12),
        pkt::indirect(1, IB_VA, 0),
        pkt::indirect(1, IB_VA, packet::INDIRECT_SIZE_MAX + 8),
        pkt::indirect(1, u64::MAX - 7, 16),
        reserved,
    ] {
        let head = rig.tail(0);
        let err = rig.fail(0, &bad);
        check_error(
            &rig,
            0,
            err,
            (hwq::ERR_BAD_PACKET, 0, ring + u64::from(head), ring_info),
        );
        rig.reset(0, rig.tail(0));
    }
    // Inside the buffer: nested INDIRECT, a packet past the end, a fault. Q_ERR_PKT is the
    // failed packet in ASID 1.
    let cases = [
        (
            pkt::indirect(1, IB_VA, 8),
            hwq::ERR_NESTED_INDIRECT,
            0,
            ib_info,
        ),
        (
            pkt::fence(USER_DATA_VA, 1, false)[..4].to_vec(),
            hwq::ERR_BAD_PACKET,
            0,
            ib_info,
        ),
        (
            pkt::fence(0x7777_0000, 1, false),
            hwq::ERR_MMU_FAULT,
            0x7777_0000,
            hwq::err_info(1, hwq::ACCESS_WRITE, hwq::ENGINE_QUEUE),
        ),
        (
            pkt::fence(USER_DATA_VA + 0x4000, 1, false),
            hwq::ERR_MMU_FAULT,
            USER_DATA_VA + 0x4000,
            hwq::err_info(1, hwq::ACCESS_WRITE, hwq::ENGINE_QUEUE),
        ),
        (
            pkt::dma(0x9999_0000, USER_DATA_VA, 16),
            hwq::ERR_MMU_FAULT,
            0x9999_0000,
            hwq::err_info(1, hwq::ACCESS_READ, hwq::ENGINE_DMA),
        ),
    ];
    for (inner, code, addr, info) in cases {
        let ib = pkt::cat(&[pkt::nop(2), inner]);
        rig.write(IB_PA, &bytes(&ib));
        let head = rig.tail(0);
        let err = rig.fail(0, &pkt::indirect(1, IB_VA, ib.len() as u32 * 4));
        check_error(&rig, 0, err, (code, addr, IB_VA + 8, info));
        assert_eq!(rig.reg(0, hwq::Q_HEAD), head, "head at the INDIRECT");
        rig.reset(0, rig.tail(0));
    }
    // The buffer itself unmapped: the fetch faults, in ASID 1.
    let err = rig.fail(0, &pkt::indirect(1, 0x5000_0000, 64));
    let info = hwq::err_info(1, hwq::ACCESS_READ, hwq::ENGINE_QUEUE);
    check_error(
        &rig,
        0,
        err,
        (hwq::ERR_MMU_FAULT, 0x5000_0000, 0x5000_0000, info),
    );
}

#[test]
fn wait_does_not_block_other_queues() {
    let mut rig = Rig::new();
    let flag = FENCE_PA + 0x100;
    rig.enable(0, RING_SIZE);
    rig.enable(1, RING_SIZE);
    rig.submit(
        0,
        &pkt::cat(&[
            pkt::wait(KVA + flag, 5),
            pkt::fence(KVA + FENCE_PA, 1, true),
        ]),
    );
    rig.wait_status(0, "waiting", |r| {
        r.reg(0, hwq::Q_STATUS) == hwq::Q_STATUS_WAITING
    });
    // Queue 1 runs while queue 0 waits; a value below the target does not release it.
    for i in 0..20 {
        rig.run(1, &pkt::fence(KVA + FENCE_PA + 8, i, false));
    }
    rig.write_u64(flag, 4);
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(rig.reg(0, hwq::Q_STATUS), hwq::Q_STATUS_WAITING);
    assert_eq!(rig.read_u64(FENCE_PA), 0);
    assert_eq!(rig.reg(0, hwq::Q_HEAD), 0);
    // Released by an unsigned comparison.
    rig.write_u64(flag, u64::MAX);
    rig.idle(0);
    assert_eq!(rig.read_u64(FENCE_PA), 1);
    assert_eq!(rig.wait_irq(regs::vector_queue(0)), 1);
    // A WAIT whose value is already there does not wait.
    rig.run(0, &pkt::wait(KVA + flag, 3));
}

#[test]
fn reset_abandons_a_wait() {
    let mut rig = Rig::new();
    rig.enable(2, RING_SIZE);
    rig.submit(
        2,
        &pkt::cat(&[
            pkt::wait(KVA + FENCE_PA, 1),
            pkt::fence(KVA + FENCE_PA + 8, 1, false),
        ]),
    );
    rig.wait_status(2, "waiting", |r| {
        r.reg(2, hwq::Q_STATUS) == hwq::Q_STATUS_WAITING
    });
    // Resume at the tail: the fence after the WAIT is dropped too.
    let tail = rig.tail(2);
    rig.reset(2, tail);
    assert_eq!(rig.wait_irq(regs::vector_queue(2)), 1);
    rig.idle(2);
    assert_eq!(rig.reg(2, hwq::Q_HEAD), tail);
    assert_eq!(rig.read_u64(FENCE_PA + 8), 0);
    // The queue goes on.
    rig.run(2, &pkt::fence(KVA + FENCE_PA + 8, 2, false));
    assert_eq!(rig.read_u64(FENCE_PA + 8), 2);
}

#[test]
fn wait_fault_and_bad_wait() {
    let mut rig = Rig::new();
    rig.enable(0, RING_SIZE);
    let err = rig.fail(0, &pkt::wait(0x6000_0000, 1));
    let info = hwq::err_info(0, hwq::ACCESS_READ, hwq::ENGINE_QUEUE);
    check_error(
        &rig,
        0,
        err,
        (hwq::ERR_MMU_FAULT, 0x6000_0000, KVA + ring_pa(0), info),
    );
    rig.reset(0, rig.tail(0));
    let err = rig.fail(0, &pkt::wait(KVA + FENCE_PA + 1, 1));
    assert_eq!(err.0, hwq::ERR_BAD_PACKET);
}

#[test]
fn detach_stops_a_waiting_queue_and_resets_the_device() {
    let mut rig = Rig::new();
    rig.map_pages(1, 0x1000, DATA, 0x1000, false);
    rig.set_ctx(1, true);
    rig.enable(0, RING_SIZE);
    rig.submit(
        0,
        &pkt::cat(&[
            pkt::wait(KVA + FENCE_PA, 1),
            pkt::fence(KVA + FENCE_PA + 8, 1, false),
        ]),
    );
    rig.wait_status(0, "waiting", |r| {
        r.reg(0, hwq::Q_STATUS) == hwq::Q_STATUS_WAITING
    });
    let t = std::time::Instant::now();
    rig.dev.detach();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "detach took {:?}",
        t.elapsed()
    );
    // The queue does not go on after its client left, even if the value comes.
    rig.write_u64(FENCE_PA, 1);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(rig.read_u64(FENCE_PA + 8), 0);
    // The device is reset: queues disabled, contexts invalid.
    assert_eq!(rig.reg(0, hwq::Q_STATUS), hwq::Q_STATUS_DISABLED);
    assert_eq!(rig.reg(0, hwq::Q_CTRL), 0);
    assert_eq!(rig.shm.read32(mmu::ctx_reg(1, mmu::CTX_CTRL)), 0);
    assert_eq!(rig.shm.read64(regs::SIGNATURE), regs::SIGNATURE_VALUE);
}
