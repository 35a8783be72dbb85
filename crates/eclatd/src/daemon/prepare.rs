//! A fleet rollout's two phases on this node (`eclatd --etcd`), on the halves of a local
//! replace (`load`): [`Daemon::prepare`] stages the new generation ([`Daemon::stage`]:
//! compiled, linked against the running state, its programs, chains and loader loaded and
//! verified by the kernel, configured, the loader pinned and attached nowhere, its intent
//! saved) and holds it; [`Daemon::commit_prepared`] switches to it ([`Daemon::switch`], the
//! atomic switch of a local replace); [`Daemon::drop_prepared`] drops it, leaving no pin and no
//! program. A restart drops it too: its intent is undone at the next start (`adopt`).
//!
//! One generation is held at a time, keyed by script name and the fleet's generation; any
//! other load or unload, or another prepare, drops it first (it was linked against the state
//! it would change), and the commit then loads afresh. It is not the fleet protocol
//! (`eclat-fleet`).

use eclat_link::Mode;

use super::load::Staged;
use super::{check_script_name, lock, Daemon, Inner, Loaded, Placement, ScriptSource};
use crate::error::Result;

/// The generation a fleet rollout prepared, held until its commit or abort.
pub(super) struct Held {
    /// The fleet's generation.
    generation: u64,
    staged: Staged,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("script", &self.staged.name())
            .field("generation", &self.generation)
            .finish()
    }
}

impl Held {
    /// The user packages the held generation brought, if any.
    pub(super) fn packages(&self) -> Option<&[eclat_fleet::model::Package]> {
        self.staged.packages()
    }
}

impl Daemon {
    /// Prepares `src` as script `name` at the fleet's `generation` and holds it: the
    /// compiler's warnings, or why it cannot be loaded here. Nothing that runs changes.
    pub fn prepare(&self, name: &str, generation: u64, src: &ScriptSource) -> Result<String> {
        check_script_name(name)?;
        let catalog = self.catalog_for(src)?;
        let units = self.compile(&catalog, name, src)?;
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        self.drop_held(inner, "another prepare");
        let _op = crate::crash::Operation::enter("prepare");
        // The fleet's scripts take the default placement: they run in name order.
        let staged = self.stage(
            inner,
            catalog,
            name,
            src,
            units,
            None,
            &Placement::default(),
            Mode::Interpreted,
        )?;
        let warnings = staged.warnings().to_owned();
        inner.held = Some(Held { generation, staged });
        Ok(warnings)
    }

    /// Switches script `name` to the generation [`Daemon::prepare`] holds for `generation`:
    /// `None` if it holds none (dropped meanwhile, or the daemon restarted), and then the
    /// caller loads afresh.
    pub fn commit_prepared(&self, name: &str, generation: u64) -> Option<Result<Loaded>> {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        let held = inner
            .held
            .take_if(|h| h.generation == generation && h.staged.name() == name)?;
        let _op = crate::crash::Operation::enter(if held.staged.replaces() {
            "replace"
        } else {
            "load"
        });
        Some(self.switch(inner, held.staged))
    }

    /// Drops what [`Daemon::prepare`] holds for script `name` at `generation`; whether it
    /// held it.
    pub fn drop_prepared(&self, name: &str, generation: u64) -> bool {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        match inner
            .held
            .take_if(|h| h.generation == generation && h.staged.name() == name)
        {
            Some(held) => {
                self.unstage(inner, held.staged);
                true
            }
            None => false,
        }
    }

    /// Drops the generation held, if any, before `what` changes the state it was staged
    /// against.
    pub(super) fn drop_held(&self, inner: &mut Inner, what: &str) {
        if let Some(held) = inner.held.take() {
            tracing::warn!(
                script = held.staged.name(),
                generation = held.generation,
                "dropping the generation a fleet rollout prepared: {what} changes the state it was prepared against; its commit will load it afresh"
            );
            self.unstage(inner, held.staged);
        }
    }

    /// The script [`Daemon::prepare`] holds and the fleet's generation, if any.
    pub fn prepared(&self) -> Option<(String, u64)> {
        lock(&self.inner)
            .held
            .as_ref()
            .map(|h| (h.staged.name().to_owned(), h.generation))
    }
}
