//! A fleet rollout's first phase on this node (`eclatd --etcd`): everything a load or
//! replace of a script does before it changes anything that runs, so that the commit, a
//! local replace, cannot fail for the script's own reasons. Compile the client's files, link
//! against the running state (IDs as a replace would take them), resolve the attachments
//! (the interfaces exist here), find a dispatch slot for a new script, check the map
//! configuration, and load the whole
//! script (programs, chains, loader, configuration) into a private VM attached to nothing,
//! for the kernel verifier's answer. The private copy is dropped at the end: what the commit
//! switches to is loaded by the local replace (`load`), which is atomic for packets.
//!
//! It is not the fleet protocol (`eclat-fleet`) and writes no state.

use eclat_link::{link_with, LoadOptions, LoadedScript, Unit};
use hike_isa::abi::DISPATCH_SLOTS;

use super::load::{script_hook, Allocator, Units};
use super::{check_script_name, lock, reconfigure, Daemon, ScriptSource};
use crate::error::{chain, DaemonError, Result};

impl Daemon {
    /// Prepares `src` as script `name`: the compiler's warnings, or why it cannot be loaded
    /// here.
    pub fn prepare(&self, name: &str, src: &ScriptSource) -> Result<String> {
        check_script_name(name)?;
        let catalog = self.catalog_for(src)?;
        let Units { units, warnings } = self.compile(&catalog, name, src)?;
        let (hook, linked) = {
            let inner = lock(&self.inner);
            let old = inner.state.script(name).cloned();
            let hook = script_hook(name, &units[0].1, None)?;
            let (main, others) = units.split_first().expect("the main script");
            let main = Unit {
                name: &main.0,
                script: &main.1,
            };
            let others: Vec<Unit<'_>> = others
                .iter()
                .map(|(n, s)| Unit { name: n, script: s })
                .collect();
            let mut ids = Allocator::new(&inner.state, &catalog, hook);
            let linked = link_with(&catalog, main, &others, None, &mut ids).map_err(|e| {
                DaemonError::Link {
                    script: name.to_owned(),
                    message: chain(&e),
                }
            })?;
            self.resolve_attachments(name, &units[0].1, &linked, &inner)?;
            // A new script needs a dispatch slot, as its load would.
            let free = (0..DISPATCH_SLOTS).any(|s| inner.state.scripts.iter().all(|x| x.slot != s));
            if old.is_none() && !free {
                return Err(DaemonError::TooMany {
                    what: "the scripts of the instance",
                    count: inner.state.scripts.len() + 1,
                    max: DISPATCH_SLOTS as usize,
                });
            }
            reconfigure::map_resets(&inner, &linked, old.as_ref())?;
            (hook, linked)
        };
        // The verifier's answer on every object, the chains validated again, the
        // configuration written: in a private VM, so nothing that runs is touched.
        let opts = LoadOptions {
            hook: Some(hook),
            ..LoadOptions::default()
        };
        LoadedScript::load(&catalog, linked, &opts).map_err(|e| DaemonError::Link {
            script: name.to_owned(),
            message: format!("the kernel refused it: {}", chain(&e)),
        })?;
        Ok(warnings)
    }
}
