// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Fault injection: every fault of the device specification, requested through the `FI_*`
//! registers or directly, and the resets that recover from them.

mod common;

use std::time::{Duration, Instant};

use common::{pkt, *};
use gaudi_emu::{
    fault::Fault,
    hw::{health, queue as hwq, regs},
};

const FENCE_PA: u64 = DATA;

/// Requests `op` through the fault-injection registers; returns `FI_STATUS`.
fn request(rig: &mut Rig, op: u32, queue: u32, arg: u32) -> u32 {
    let req = rig.shm.read32(regs::FI_REQ).wrapping_add(1);
    rig.shm.write32(regs::FI_OP, op);
    rig.shm.write32(regs::FI_QUEUE, queue);
    rig.shm.write32(regs::FI_ARG, arg);
    rig.shm.write32(regs::FI_REQ, req);
    let irqs = rig.dev.handle_doorbell(regs::DOORBELL_CONTROL as usize, 1);
    assert_eq!(
        rig.shm.read32(regs::FI_ACK),
        req,
        "request not acknowledged"
    );
    assert!(irqs.contains(&(regs::VECTOR_CONTROL as usize)));
    rig.shm.read32(regs::FI_STATUS)
}

/// Waits `ms` and checks that queue `q` is still busy at the same head.
fn still_hung(rig: &Rig, q: u32, head: u32, ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
    assert_eq!(rig.reg(q, hwq::Q_STATUS), hwq::Q_STATUS_BUSY);
    assert_eq!(rig.reg(q, hwq::Q_HEAD), head);
}

#[test]
fn bad_requests_are_refused() {
    let mut rig = Rig::new();
    assert_eq!(request(&mut rig, 0, 0, 0), regs::FI_STATUS_INVALID);
    assert_eq!(request(&mut rig, 99, 0, 0), regs::FI_STATUS_INVALID);
    assert_eq!(
        request(&mut rig, regs::FI_HANG_QUEUE, 4, 0),
        regs::FI_STATUS_INVALID
    );
    assert_eq!(
        request(&mut rig, regs::FI_DROP_IRQ, 1, 1),
        regs::FI_STATUS_OK
    );
}

#[test]
fn queue_hang_ends_with_a_queue_reset() {
    let mut rig = Rig::new();
    rig.enable(0, RING_SIZE);
    rig.idle(0);
    // Hang at the second packet: the first runs.
    assert_eq!(
        request(&mut rig, regs::FI_HANG_QUEUE, 0, 1),
        regs::FI_STATUS_OK
    );
    let first = pkt::fence(KVA + FENCE_PA, 1, false);
    let second = pkt::fence(KVA + FENCE_PA, 2, false);
    let head = first.len() as u32 * 4;
    rig.submit(0, &pkt::cat(&[first, second.clone()]));
    rig.wait_status(0, "the hang", |r| r.reg(0, hwq::Q_HEAD) == head);
    still_hung(&rig, 0, head, 100);
    assert_eq!(rig.read_u64(FENCE_PA), 1);
    // The reset drops the hung packet and resumes after it.
    let tail = rig.tail(0);
    rig.reset(0, tail);
    rig.idle(0);
    assert_eq!(rig.read_u64(FENCE_PA), 1);
    // The queue works again.
    rig.run(0, &pkt::fence(KVA + FENCE_PA, 3, false));
    assert_eq!(rig.read_u64(FENCE_PA), 3);
}

#[test]
fn engine_hang_needs_an_engine_reset() {
    let mut rig = Rig::new();
    rig.enable(1, RING_SIZE);
    rig.idle(1);
    rig.dev
        .inject(Fault::HangEngine { queue: 1, after: 0 })
        .unwrap();
    rig.submit(1, &pkt::fence(KVA + FENCE_PA, 5, false));
    rig.wait_status(1, "the hang", |r| {
        r.reg(1, hwq::Q_STATUS) == hwq::Q_STATUS_BUSY
    });
    // A queue reset is not acknowledged.
    let req = rig.reg(1, hwq::Q_RESET).wrapping_add(1);
    let tail = rig.tail(1);
    rig.shm.write32(q_reg(1, hwq::Q_RESUME), tail);
    rig.shm.write32(q_reg(1, hwq::Q_RESET), req);
    rig.doorbell(1);
    std::thread::sleep(Duration::from_millis(100));
    assert_ne!(rig.reg(1, hwq::Q_RESET_ACK), req);
    still_hung(&rig, 1, 0, 0);
    // The engine reset is, and acknowledges the queue reset too.
    rig.shm.write32(regs::engine_reset(1), 1);
    rig.dev.handle_doorbell(regs::DOORBELL_CONTROL as usize, 1);
    rig.wait_status(1, "the engine reset", |r| {
        r.shm.read32(regs::engine_reset_ack(1)) == 1
    });
    assert_eq!(rig.reg(1, hwq::Q_RESET_ACK), req);
    rig.idle(1);
    assert_eq!(rig.read_u64(FENCE_PA), 0, "the hung packet ran");
    rig.run(1, &pkt::fence(KVA + FENCE_PA, 6, false));
    assert_eq!(rig.read_u64(FENCE_PA), 6);
}

#[test]
fn completions_corrupted_and_interrupts_lost() {
    let mut rig = Rig::new();
    rig.enable(2, RING_SIZE);
    rig.idle(2);
    let _ = rig.irqs(regs::vector_queue(2));
    rig.dev
        .inject(Fault::DropIrq { queue: 2, count: 1 })
        .unwrap();
    rig.run(2, &pkt::fence(KVA + FENCE_PA, 1, true));
    assert_eq!(rig.read_u64(FENCE_PA), 1);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        rig.irqs(regs::vector_queue(2)),
        0,
        "the interrupt was raised"
    );
    rig.run(2, &pkt::fence(KVA + FENCE_PA, 2, true));
    assert_eq!(rig.wait_irq(regs::vector_queue(2)), 1);
    // Corruption hits completion fences (kernel ASID, with an interrupt) only.
    rig.dev
        .inject(Fault::CorruptCompletion { queue: 2 })
        .unwrap();
    rig.run(2, &pkt::fence(KVA + FENCE_PA, 3, false));
    assert_eq!(rig.read_u64(FENCE_PA), 3);
    rig.run(2, &pkt::fence(KVA + FENCE_PA, 4, true));
    assert_eq!(rig.read_u64(FENCE_PA), 4 + (1 << 40));
    rig.run(2, &pkt::fence(KVA + FENCE_PA, 5, true));
    assert_eq!(rig.read_u64(FENCE_PA), 5);
}

#[test]
fn ecc_errors_and_spurious_interrupts() {
    let mut rig = Rig::new();
    let _ = rig.irqs(regs::VECTOR_ERROR);
    assert_eq!(
        request(&mut rig, regs::FI_ECC_CORRECTABLE, 0, 0x4000),
        regs::FI_STATUS_OK
    );
    assert_eq!(rig.wait_irq(regs::VECTOR_ERROR), 1);
    assert_eq!(rig.shm.read32(health::ECC_CE_COUNT), 1);
    assert_eq!(rig.shm.read64(health::ECC_LAST_ADDR), 0x4000);
    assert_eq!(rig.shm.read32(regs::STATUS), regs::STATUS_READY);
    rig.dev
        .inject(Fault::EccUncorrectable { addr: 0x8000 })
        .unwrap();
    assert_eq!(rig.wait_irq(regs::VECTOR_ERROR), 1);
    assert_eq!(rig.shm.read32(health::ECC_UE_COUNT), 1);
    assert_eq!(
        rig.shm.read32(regs::STATUS),
        regs::STATUS_READY | regs::STATUS_ERROR
    );
    rig.dev.inject(Fault::SpuriousIrq { queue: 3 }).unwrap();
    assert_eq!(rig.wait_irq(regs::VECTOR_ERROR), 1);
    assert_eq!(rig.wait_irq(regs::vector_queue(3)), 1);
    assert_eq!(rig.shm.read32(regs::ERR_QUEUES), 0);
    // A device reset clears the error state and the counters.
    rig.shm.write32(regs::DEV_RESET, regs::DEV_RESET_START);
    rig.dev.handle_doorbell(regs::DOORBELL_CONTROL as usize, 1);
    assert_eq!(rig.shm.read32(regs::DEV_RESET), 0);
    assert_eq!(rig.shm.read32(regs::STATUS), regs::STATUS_READY);
    assert_eq!(rig.shm.read32(health::ECC_UE_COUNT), 0);
}

#[test]
fn lost_device_answers_nothing_then_comes_back_reset() {
    let mut rig = Rig::new();
    rig.enable(0, RING_SIZE);
    rig.idle(0);
    rig.dev_write(0x40, &[0xaa; 8]);
    let t0 = Instant::now();
    rig.dev.inject(Fault::DeviceLost { ms: 150 }).unwrap();
    assert!(rig.dev.is_lost());
    assert_eq!(rig.shm.read32(regs::STATUS), regs::STATUS_LOST);
    assert_eq!(rig.shm.read64(regs::SIGNATURE), u64::MAX);
    // Doorbells and further requests are ignored.
    assert!(rig
        .dev
        .handle_doorbell(regs::DOORBELL_CONTROL as usize, 1)
        .is_empty());
    assert!(rig.dev.inject(Fault::EccCorrectable { addr: 0 }).is_err());
    rig.dev.tick();
    assert!(rig.dev.is_lost(), "back too early");
    while t0.elapsed() < Duration::from_millis(160) {
        std::thread::sleep(Duration::from_millis(10));
    }
    rig.dev.tick();
    assert!(!rig.dev.is_lost());
    assert_eq!(rig.shm.read64(regs::SIGNATURE), regs::SIGNATURE_VALUE);
    assert_eq!(rig.shm.read32(regs::STATUS), regs::STATUS_READY);
    assert_eq!(rig.dev_read(0x40, 8), [0; 8], "device memory survived");
    assert_eq!(rig.reg(0, hwq::Q_STATUS), hwq::Q_STATUS_DISABLED);
}
