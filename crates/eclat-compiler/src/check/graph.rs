//! The call graph of the script's chains: recursion (refused: the VM has no unbounded
//! stack of frames) and call depth in frames, against the VM's limit. Calls of chains of other
//! scripts count with the depth those scripts declare.

use std::collections::HashSet;

use eclat_syntax::Span;
use hike_isa::abi;

use super::ModuleChecker;
use crate::error::CheckError;
use crate::hir;

impl ModuleChecker<'_> {
    /// Recursion and call depth over the chains of this script.
    pub(super) fn call_graph(
        &mut self,
        chains: &[(hir::Chain, Span)],
        edges: &[Vec<(usize, Span)>],
        imported_depth: &[usize],
    ) {
        let n = chains.len();
        // 0 = unvisited, 1 = on the stack, 2 = done.
        let mut state = vec![0u8; n];
        let mut depth = vec![1usize; n];
        let mut reported = HashSet::new();
        let mut has_cycle = false;
        fn visit(
            c: usize,
            edges: &[Vec<(usize, Span)>],
            state: &mut [u8],
            stack: &mut Vec<usize>,
            cycles: &mut Vec<(Vec<usize>, Span)>,
        ) {
            state[c] = 1;
            stack.push(c);
            for &(callee, span) in &edges[c] {
                match state[callee] {
                    0 => visit(callee, edges, state, stack, cycles),
                    1 => {
                        let from = stack.iter().position(|&x| x == callee).expect("on stack");
                        cycles.push((stack[from..].to_vec(), span));
                    }
                    _ => {}
                }
            }
            stack.pop();
            state[c] = 2;
        }
        let mut cycles = Vec::new();
        for c in 0..n {
            if state[c] == 0 {
                visit(c, edges, &mut state, &mut Vec::new(), &mut cycles);
            }
        }
        for (cycle, span) in cycles {
            has_cycle = true;
            let mut key = cycle.clone();
            key.sort();
            if !reported.insert(key) {
                continue;
            }
            let names: Vec<&str> = cycle.iter().map(|&i| chains[i].0.name.as_str()).collect();
            let mut path = names.join(" → ");
            path.push_str(" → ");
            path.push_str(names[0]);
            self.error(
                CheckError::Recursion {
                    chain: names[0].to_string(),
                    cycle: path,
                },
                span,
            );
        }
        if has_cycle {
            return;
        }
        // Depth in frames: longest path, computed in reverse topological order.
        let mut order = Vec::new();
        let mut seen = vec![false; n];
        fn post(c: usize, edges: &[Vec<(usize, Span)>], seen: &mut [bool], order: &mut Vec<usize>) {
            seen[c] = true;
            for &(callee, _) in &edges[c] {
                if !seen[callee] {
                    post(callee, edges, seen, order);
                }
            }
            order.push(c);
        }
        for c in 0..n {
            if !seen[c] {
                post(c, edges, &mut seen, &mut order);
            }
        }
        for &c in &order {
            let callees = edges[c].iter().map(|&(k, _)| depth[k]).max().unwrap_or(0);
            depth[c] = 1 + callees.max(imported_depth[c]);
        }
        for (c, (chain, span)) in chains.iter().enumerate() {
            if depth[c] > abi::MAX_FRAMES {
                self.error(
                    CheckError::CallDepth {
                        chain: chain.name.clone(),
                        depth: depth[c],
                        max: abi::MAX_FRAMES,
                    },
                    *span,
                );
            }
        }
    }
}
