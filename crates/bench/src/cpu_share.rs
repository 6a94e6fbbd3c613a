//! Lambda gives a function CPU in proportion to its memory: a whole vCPU at 1,769 MB, so about
//! 7 % of one at 128 MB. The bench plays that with a CPU quota in a control group it creates,
//! one per memory size: cgroup v2's `cpu.max`, or v1's `cpu.cfs_quota_us` over
//! `cpu.cfs_period_us`. A function is put in it before it executes (a shell writes its own pid
//! into the group, then `exec`s the binary), so its whole start is under the quota.

use std::path::{Path, PathBuf};

/// The memory that buys one whole vCPU (AWS's Lambda documentation, "memory and computing
/// power").
pub const MB_PER_VCPU: f64 = 1769.0;
/// The quota's period, in microseconds: 20 ms, a fifth of the kernel's default, so that a
/// share is spread over a start rather than spent in one burst and then waited out (at the
/// default 100 ms, a 128 MB function runs 7 ms and then waits 93: every cold start lands on a
/// multiple of 100 ms). The kernel's smallest quota, 1 ms, still allows 5 % of a CPU.
const PERIOD_US: u64 = 20_000;

/// The share of one CPU a function of `memory_mb` gets (more than one past 1,769 MB).
pub fn share(memory_mb: u32) -> f64 {
    f64::from(memory_mb) / MB_PER_VCPU
}

/// A control group holding processes to a memory size's CPU share; removed when dropped.
pub struct CpuShare {
    pub memory_mb: u32,
    dir: PathBuf,
}

impl CpuShare {
    /// The group for `memory_mb`, or why this machine cannot make one (no writable cgroup
    /// filesystem, or no CPU controller in it).
    pub fn create(memory_mb: u32) -> Result<CpuShare, String> {
        let quota = ((share(memory_mb) * PERIOD_US as f64).round() as u64).max(1000);
        let name = format!("delivery-bench-{memory_mb}mb");
        let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers");
        let v1 = Path::new("/sys/fs/cgroup/cpu");
        let (dir, files): (PathBuf, Vec<(&str, String)>) = if v2.exists() {
            let dir = Path::new("/sys/fs/cgroup").join(&name);
            (dir, vec![("cpu.max", format!("{quota} {PERIOD_US}"))])
        } else if v1.join("cpu.cfs_quota_us").exists() {
            let dir = v1.join(&name);
            let files = vec![
                ("cpu.cfs_period_us", PERIOD_US.to_string()),
                ("cpu.cfs_quota_us", quota.to_string()),
            ];
            (dir, files)
        } else {
            return Err("no cgroup CPU controller (v2 cpu.max or v1 cpu.cfs_quota_us)".to_owned());
        };
        if !dir.exists() {
            std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        for (file, value) in files {
            let path = dir.join(file);
            std::fs::write(&path, value).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(CpuShare { memory_mb, dir })
    }

    /// The file a process writes its pid to, to join the group.
    pub fn procs(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }
}

impl Drop for CpuShare {
    fn drop(&mut self) {
        // Empty once its processes are gone (the bench kills each function it started).
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_is_lambda_s_proportion_of_a_vcpu() {
        assert!((share(128) - 0.0724).abs() < 0.001);
        assert!((share(1769) - 1.0).abs() < f64::EPSILON);
        assert!((share(3538) - 2.0).abs() < f64::EPSILON);
    }
}
