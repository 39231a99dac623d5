// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Prints the sizes, offsets and constants of gaudi.h as the C compiler sees
 * them, one "name value" line each, for tests/c_abi.rs to compare with the
 * library's Rust declarations.
 */
#include <stddef.h>
#include <stdio.h>

#include <gaudi/gaudi.h>

#define SIZE(s) printf("sizeof %s %zu\n", #s, sizeof(struct s))
#define OFF(s, f) printf("offsetof %s.%s %zu\n", #s, #f, offsetof(struct s, f))
#define CONST(k) printf("const %s %llu\n", #k, (unsigned long long)(k))

int main(void)
{
	SIZE(gaudi_buffer);
	OFF(gaudi_buffer, size);
	OFF(gaudi_buffer, va);
	OFF(gaudi_buffer, cpu);
	SIZE(gaudi_ctx_state);
	OFF(gaudi_ctx_state, error);
	OFF(gaudi_ctx_state, error_seqno);
	OFF(gaudi_ctx_state, fault_addr);
	OFF(gaudi_ctx_state, error_packet);
	OFF(gaudi_ctx_state, fault_access);
	OFF(gaudi_ctx_state, completed);
	SIZE(gaudi_bo_use);
	OFF(gaudi_bo_use, flags);
	SIZE(gaudi_sync);
	OFF(gaudi_sync, flags);
	OFF(gaudi_sync, point);
	SIZE(gaudi_submit);
	OFF(gaudi_submit, cb_size);
	OFF(gaudi_submit, cb_addr);
	OFF(gaudi_submit, bos);
	OFF(gaudi_submit, bo_count);
	OFF(gaudi_submit, in_sync_count);
	OFF(gaudi_submit, in_syncs);
	OFF(gaudi_submit, out_sync_count);
	OFF(gaudi_submit, out_syncs);
	SIZE(gaudi_gemm);
	OFF(gaudi_gemm, b);
	OFF(gaudi_gemm, c);
	OFF(gaudi_gemm, bias);
	OFF(gaudi_gemm, m);
	OFF(gaudi_gemm, n);
	OFF(gaudi_gemm, k);
	OFF(gaudi_gemm, lda);
	OFF(gaudi_gemm, ldb);
	OFF(gaudi_gemm, ldc);
	OFF(gaudi_gemm, alpha);
	OFF(gaudi_gemm, beta);
	OFF(gaudi_gemm, flags);
	SIZE(gaudi_tpc_launch);
	OFF(gaudi_tpc_launch, code_size);
	OFF(gaudi_tpc_launch, grid);
	OFF(gaudi_tpc_launch, args);
	CONST(GAUDI_BO_WC);
	CONST(GAUDI_BO_DEVICE);
	CONST(GAUDI_BO_IMPORTED);
	CONST(GAUDI_VA_START);
	CONST(GAUDI_VA_END);
	CONST(GAUDI_VM_PAGE_SIZE);
	CONST(GAUDI_VM_READONLY);
	CONST(GAUDI_BO_USE_READ);
	CONST(GAUDI_BO_USE_WRITE);
	CONST(GAUDI_ERR_NONE);
	CONST(GAUDI_ERR_BAD_OPCODE);
	CONST(GAUDI_ERR_BAD_PACKET);
	CONST(GAUDI_ERR_MMU_FAULT);
	CONST(GAUDI_ERR_NESTED_INDIRECT);
	CONST(GAUDI_ERR_BUS);
	CONST(GAUDI_ERR_TPC);
	CONST(GAUDI_ERR_TIMEOUT);
	CONST(GAUDI_ACCESS_READ);
	CONST(GAUDI_ACCESS_WRITE);
	CONST(GAUDI_SYNCOBJ_CREATE_SIGNALED);
	CONST(GAUDI_SYNCOBJ_WAIT_ALL);
	CONST(GAUDI_SYNCOBJ_WAIT_FOR_SUBMIT);
	CONST(GAUDI_GEMM_TRANS_A);
	CONST(GAUDI_GEMM_TRANS_B);
	CONST(GAUDI_GEMM_BF16);
	CONST(GAUDI_GEMM_BIAS);
	CONST(GAUDI_GEMM_RELU);
	CONST(GAUDI_TPC_ARGS);
	CONST(GAUDI_PRIORITY_LOW);
	CONST(GAUDI_PRIORITY_NORMAL);
	CONST(GAUDI_PRIORITY_HIGH);
	CONST(GAUDI_RT_TRANS_A);
	CONST(GAUDI_RT_TRANS_B);
	CONST(GAUDI_RT_RELU);
	return 0;
}
