import { adapterName } from '../gpu/device';
import { useGpu } from './gpuStore';

const MB = 1 << 20;

/** Adapter name, the limits that matter, the kernel self-check, and any loss. */
export function GpuStatus() {
  const info = useGpu((s) => s.info);
  const kernels = useGpu((s) => s.kernels);
  const phase = useGpu((s) => s.phase);
  const check = useGpu((s) => s.selfCheck);
  const lost = useGpu((s) => s.lost);
  const errors = useGpu((s) => s.errors);
  const { dismissError } = useGpu((s) => s.actions);

  return (
    <section className="panel gpu-status" aria-label="GPU status" data-testid="gpu-status" data-phase={phase}>
      <h2>GPU</h2>
      {phase === 'starting' && <p>Looking for a WebGPU adapter…</p>}
      {info && (
        <>
          <p data-testid="adapter-name">
            <strong>{adapterName(info)}</strong>
            {info.software && <span className="tag"> software renderer: expect slow training</span>}
          </p>
          <dl className="limits">
            <dt>Largest storage binding</dt>
            <dd>{Math.round(info.limits.maxStorageBufferBindingSize / MB)} MiB</dd>
            <dt>Largest buffer</dt>
            <dd>{Math.round(info.limits.maxBufferSize / MB)} MiB</dd>
            <dt>Workgroup memory</dt>
            <dd>{info.limits.maxComputeWorkgroupStorageSize / 1024} KiB</dd>
            <dt>Invocations per workgroup</dt>
            <dd>{info.limits.maxComputeInvocationsPerWorkgroup}</dd>
            {kernels && (
              <>
                <dt>Kernels</dt>
                <dd data-testid="kernel-variant" data-kernels={kernels.variant} data-subgroups={kernels.subgroups}>
                  {kernels.variant === 'gpu'
                    ? `shaped for GPUs, reductions in ${kernels.subgroups ? 'subgroups' : 'workgroup memory'}`
                    : 'shaped for CPU adapters'}
                </dd>
              </>
            )}
          </dl>
        </>
      )}
      {check && (
        <p
          data-testid="kernel-check"
          data-ok={check.ok}
          data-max-abs-diff={check.maxAbsDiff}
          className={check.ok ? 'ok' : 'bad'}
        >
          Kernel check {check.ok ? 'passed' : 'FAILED'}: {check.M}×{check.K} by {check.K}×{check.N} matmul on the GPU,
          max |GPU − CPU| = {check.maxAbsDiff.toExponential(1)}
          {check.unwritten > 0 && `, ${check.unwritten} outputs never written`} ({check.ms.toFixed(0)} ms)
        </p>
      )}
      {lost && (
        <p className="bad" data-testid="device-lost">
          The device was lost; Recover (above) acquires a new one.
        </p>
      )}
      {errors.map((e, i) => (
        <p role="alert" className="bad" key={i}>
          {e} <button onClick={() => dismissError(i)}>Dismiss</button>
        </p>
      ))}
    </section>
  );
}
