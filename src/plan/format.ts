/**
 * Printing a plan for people: text (one line per step with its short cache key), JSON (the
 * whole plan), Graphviz DOT and Mermaid (the DAG, to look at).
 */
import type { Digest } from '../image/digest.js';
import type { BaseSource, CopySource, Plan, PlannedStage, Step } from './types.js';

export type PlanFormat = 'text' | 'json' | 'dot' | 'mermaid';

function short(key: Digest): string {
  return key.slice('sha256:'.length, 'sha256:'.length + 12);
}

function baseText(plan: Plan, base: BaseSource): string {
  switch (base.kind) {
    case 'scratch':
      return 'scratch';
    case 'stage':
      return `stage ${base.stage} (${plan.stages.find((s) => s.index === base.stage)?.name ?? '?'})`;
    case 'image':
      return `${base.ref}@${base.digest}${base.origin.kind === 'oci-layout' ? ` from oci-layout ${base.origin.path}` : ''}`;
  }
}

function sourceDeps(step: Step): number[] {
  if (step.kind === 'copy') return [...new Set(step.sources.flatMap((s: CopySource) => (s.kind === 'stage' ? [s.stage] : [])))];
  return [];
}

function stageLabel(s: PlannedStage): string {
  return `${s.index}: ${s.name}`;
}

export function formatPlan(plan: Plan, format: PlanFormat = 'text'): string {
  switch (format) {
    case 'json':
      return JSON.stringify(plan, null, 2) + '\n';
    case 'text': {
      const lines: string[] = [];
      for (const s of plan.stages) {
        const target = s.index === plan.target ? ' (target)' : '';
        lines.push(`stage ${s.index} "${s.name}"${target} FROM ${baseText(plan, s.base)}  [${short(s.baseKey)}]`);
        for (const step of s.steps) {
          const deps = sourceDeps(step);
          const from = deps.length ? `  ← stage ${deps.join(', ')}` : '';
          const onbuild = step.onbuild ? ' (ONBUILD)' : '';
          lines.push(`  ${step.id.padEnd(6)} ${step.name}${onbuild}${from}  [${short(step.key)}]`);
        }
        if (s.steps.length === 0) lines.push('  (no layer-producing steps)');
      }
      const t = plan.stages.find((s) => s.index === plan.target)!;
      lines.push(`target: stage ${t.index} "${t.name}", key ${t.key}`);
      return lines.join('\n') + '\n';
    }
    case 'dot': {
      const lines = ['digraph plan {', '  rankdir=TB;', '  node [shape=box, fontname="monospace"];'];
      const q = (s: string) => JSON.stringify(s);
      for (const s of plan.stages) {
        lines.push(`  subgraph cluster_${s.index} {`, `    label=${q(stageLabel(s) + (s.index === plan.target ? ' (target)' : ''))};`);
        lines.push(`    ${q(`base${s.index}`)} [label=${q(`FROM ${baseText(plan, s.base)}`)}, shape=ellipse];`);
        for (const step of s.steps) lines.push(`    ${q(step.id)} [label=${q(`${step.name}\n${short(step.key)}`)}];`);
        lines.push('  }');
        let prev = `base${s.index}`;
        for (const step of s.steps) {
          lines.push(`  ${q(prev)} -> ${q(step.id)};`);
          prev = step.id;
        }
        if (s.base.kind === 'stage') lines.push(`  ${q(lastNode(plan, s.base.stage))} -> ${q(`base${s.index}`)} [style=bold];`);
        for (const step of s.steps) {
          for (const d of sourceDeps(step)) lines.push(`  ${q(lastNode(plan, d))} -> ${q(step.id)} [style=dashed, label="copy"];`);
        }
      }
      lines.push('}');
      return lines.join('\n') + '\n';
    }
    case 'mermaid': {
      const lines = ['flowchart TD'];
      const id = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');
      const text = (s: string) => s.replace(/"/g, '#quot;');
      for (const s of plan.stages) {
        lines.push(`  subgraph stage${s.index}["${text(stageLabel(s))}${s.index === plan.target ? ' (target)' : ''}"]`);
        lines.push(`    base${s.index}(["FROM ${text(baseText(plan, s.base))}"])`);
        for (const step of s.steps) lines.push(`    ${id(step.id)}["${text(step.name)}<br/>${short(step.key)}"]`);
        lines.push('  end');
        let prev = `base${s.index}`;
        for (const step of s.steps) {
          lines.push(`  ${prev} --> ${id(step.id)}`);
          prev = id(step.id);
        }
        if (s.base.kind === 'stage') lines.push(`  ${id(lastNode(plan, s.base.stage))} ==> base${s.index}`);
        for (const step of s.steps) for (const d of sourceDeps(step)) lines.push(`  ${id(lastNode(plan, d))} -. copy .-> ${id(step.id)}`);
      }
      return lines.join('\n') + '\n';
    }
  }
}

function lastNode(plan: Plan, stage: number): string {
  const s = plan.stages.find((x) => x.index === stage);
  return s?.steps.at(-1)?.id ?? `base${stage}`;
}
