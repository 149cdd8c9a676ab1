import { defineConfig } from 'vitest/config';

// Three levels, one runner:
//   unit: pure TypeScript against float64 references;
//   gpu:  our WGSL kernels on a real WebGPU implementation in Node (Dawn + SwiftShader);
//   e2e:  the built app in headless Chromium with WebGPU, driven by playwright-core.
const swiftshader = process.env.VK_ICD_FILENAMES ?? '/usr/lib/chromium/vk_swiftshader_icd.json';

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['tests/unit/**/*.test.ts'], environment: 'node', sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: {
          name: 'gpu',
          sequence: { groupOrder: 1 },
          include: ['tests/gpu/**/*.test.ts'],
          environment: 'node',
          env: { VK_ICD_FILENAMES: swiftshader },
          testTimeout: 600_000,
          hookTimeout: 120_000,
          pool: 'forks',
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          sequence: { groupOrder: 2 },
          include: ['tests/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 900_000,
          hookTimeout: 300_000,
          pool: 'forks',
          maxWorkers: 1,
          fileParallelism: false,
        },
      },
    ],
  },
});
