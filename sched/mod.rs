// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Execution support for accel drivers: DMA fences.
//!
//! [`fence`] is a safe `dma_fence`: a timeline of sequence numbers, a producer that alone can
//! signal, and a reference-counted consumer fence that other drivers and userspace (through
//! `dma_resv`, sync files and syncobjs) can wait on.

pub mod fence;
