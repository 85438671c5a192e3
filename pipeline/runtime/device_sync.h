// Waiting for a device with a deadline.
//
// On NCCL a collective does not block the host: if a peer never joins, the collective's kernel
// spins on the device and the next host synchronisation waits forever (torch's NCCL watchdog may
// take its heartbeat timeout, 8 minutes by default, to end the process). Every place where glmh
// waits for the device therefore waits with a deadline and turns an overrun into a CommError
// naming what it waited for.
#pragma once

#include <c10/core/Device.h>

#include <chrono>
#include <string>

namespace glmh {

// Returns once all work queued so far on `device`'s current stream has finished; no-op on CPU.
// Throws CommError("<what>: device work did not finish within N s ...") after `timeout`.
void synchronize_device(const c10::Device& device, std::chrono::milliseconds timeout,
                        const std::string& what);

}  // namespace glmh
