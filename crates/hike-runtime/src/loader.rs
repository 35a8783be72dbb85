//! Loaders: the XDP or TC (`sched_cls`) programs that boot a chain for each packet.
//!
//! A [`Loader`] is returned by [`Vm::load_loader`](crate::Vm::load_loader) (or re-adopted from
//! a pinned instance by [`Vm::open_loader`](crate::Vm::open_loader)). Through it the loader's
//! own maps are read and written by name, packets are run with `BPF_PROG_TEST_RUN`
//! ([`Loader::test_run`]), and the loader is attached to interfaces: at XDP
//! ([`Loader::attach_xdp`]) or at a TC hook ([`Loader::attach_tc`]), as its context allows
//! (an object is built once per context, [`ProgContext`]).
//!
//! Attachments are BPF links, one per [`Attachment`] (interface and hook): XDP links, and tcx
//! links at TC, which run beside other tools' programs on the same hook in the order
//! [`TcPlacement`] chose. In a private instance they end when the `Loader` is dropped; in a
//! pinned instance each link is pinned and outlives the process, until [`Loader::detach`],
//! [`Loader::remove`] or [`Vm::destroy`](crate::Vm::destroy). Moving an attachment to another
//! loader ([`Loader::take_over`]) and reclaiming it after a crash ([`Loader::reclaim`]) are
//! the same at every hook: an atomic update of the link.

use std::collections::BTreeMap;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Mutex;

use libbpf_rs::{libbpf_sys, ProgramHandle};

pub use hike_isa::abi::XdpAction;

use crate::hook::{Attachment, Hook, ProgContext, TcPlacement};
use crate::{pin, sys, Error, MapRef, Result};

/// How an XDP program is attached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum XdpMode {
    /// In the driver (`XDP_FLAGS_DRV_MODE`); veth supports it.
    #[default]
    Native,
    /// In the generic network stack (`XDP_FLAGS_SKB_MODE`), on any interface.
    Generic,
}

impl XdpMode {
    fn flags(self) -> u32 {
        match self {
            XdpMode::Native => libbpf_sys::XDP_FLAGS_DRV_MODE,
            XdpMode::Generic => libbpf_sys::XDP_FLAGS_SKB_MODE,
        }
    }
}

impl fmt::Display for XdpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            XdpMode::Native => "native",
            XdpMode::Generic => "generic",
        })
    }
}

/// One `BPF_PROG_TEST_RUN` of a loader.
#[derive(Clone, Copy, Debug, Default)]
pub struct TestRun<'a> {
    /// The packet, from its Ethernet header.
    pub packet: &'a [u8],
    /// Runs of the same packet; 0 and 1 both mean once.
    pub repeat: u32,
    /// `xdp_md.ingress_ifindex` (0: leave the context out; the packet then comes from the
    /// loopback device of the current namespace). For a TC loader, the `__sk_buff`'s
    /// `ingress_ifindex` and `ifindex`: the packet is at the ingress of that interface (0:
    /// of the loopback device, as at XDP).
    pub ingress_ifindex: u32,
    /// `xdp_md.rx_queue_index`, used only with `ingress_ifindex` (not at TC).
    pub rx_queue_index: u32,
    /// `BPF_F_TEST_*` flags, e.g. `BPF_F_TEST_XDP_LIVE_FRAMES` (then no packet comes back).
    pub flags: u32,
}

/// What a test run returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRunResult {
    /// The program's return value: the XDP verdict, or for a TC loader the TC action (see
    /// [`TestRunResult::action`]).
    pub retval: u32,
    /// The context of the loader that ran.
    pub context: ProgContext,
    /// The packet after the run.
    pub data_out: Vec<u8>,
    /// Average duration of one run, in nanoseconds.
    pub duration_ns: u64,
}

impl TestRunResult {
    /// The verdict as an [`XdpAction`], if it is one. A TC action is read back through the
    /// mapping of `bpf/include/hike/ctx.h`: `TC_ACT_OK` is `pass`, `TC_ACT_SHOT` is `drop`
    /// (an aborted packet too: TC has one way to drop), `TC_ACT_REDIRECT` is `redirect` (`tx`
    /// is a redirect at TC).
    pub fn action(&self) -> Option<XdpAction> {
        match self.context {
            ProgContext::Xdp => XdpAction::from_retval(self.retval),
            ProgContext::Tc => match self.retval {
                TC_ACT_OK => Some(XdpAction::Pass),
                TC_ACT_SHOT => Some(XdpAction::Drop),
                TC_ACT_REDIRECT => Some(XdpAction::Redirect),
                _ => None,
            },
        }
    }
}

/// `TC_ACT_OK` (`linux/pkt_cls.h`).
pub const TC_ACT_OK: u32 = 0;
/// `TC_ACT_SHOT`.
pub const TC_ACT_SHOT: u32 = 2;
/// `TC_ACT_REDIRECT`.
pub const TC_ACT_REDIRECT: u32 = 7;

/// A loaded loader: its program, its own maps and its attachments.
#[derive(Debug)]
pub struct Loader {
    name: String,
    program: String,
    handle: ProgramHandle,
    context: ProgContext,
    maps: BTreeMap<String, MapRef>,
    links: Mutex<BTreeMap<Attachment, OwnedFd>>,
    pin_dir: Option<PathBuf>,
}

impl Loader {
    pub(crate) fn new(
        name: String,
        program: String,
        handle: ProgramHandle,
        context: ProgContext,
        maps: BTreeMap<String, MapRef>,
        links: BTreeMap<Attachment, OwnedFd>,
        pin_dir: Option<PathBuf>,
    ) -> Loader {
        Loader {
            name,
            program,
            handle,
            context,
            maps,
            links: Mutex::new(links),
            pin_dir,
        }
    }

    /// The loader's name in its instance.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name of its program in the object.
    pub fn program_name(&self) -> &str {
        &self.program
    }

    pub(crate) fn handle(&self) -> &ProgramHandle {
        &self.handle
    }

    /// The kernel's ID of the program.
    pub fn kernel_id(&self) -> u32 {
        self.handle.id()
    }

    /// The context the loader was built for, which says the hooks it attaches to.
    pub fn context(&self) -> ProgContext {
        self.context
    }

    /// Where the loader is pinned, in a pinned instance.
    pub fn pin_dir(&self) -> Option<&std::path::Path> {
        self.pin_dir.as_deref()
    }

    /// The loader's own map `name` (the shared VM maps are reached through the
    /// [`Vm`](crate::Vm)).
    pub fn map(&self, name: &str) -> Result<&MapRef> {
        self.maps.get(name).ok_or_else(|| Error::MapNotFound {
            owner: self.name.clone(),
            map: name.to_owned(),
            available: self.maps.keys().cloned().collect(),
        })
    }

    /// The loader's own maps, by name.
    pub fn maps(&self) -> &BTreeMap<String, MapRef> {
        &self.maps
    }

    /// Runs `packet` through the loader `repeat` times (0 means once) with
    /// `BPF_PROG_TEST_RUN`, without attaching it anywhere.
    pub fn test_run(&self, packet: &[u8], repeat: u32) -> Result<TestRunResult> {
        self.test_run_with(&TestRun {
            packet,
            repeat,
            ..TestRun::default()
        })
    }

    /// Runs a packet through the loader with every option of [`TestRun`].
    pub fn test_run_with(&self, input: &TestRun<'_>) -> Result<TestRunResult> {
        let err = |source| Error::TestRun {
            loader: self.name.clone(),
            source,
        };
        // A TC run always gets a context: without one the skb would come from no interface
        // (`ingress_ifindex` 0), where an XDP run's frame comes from the loopback device.
        let ingress_ifindex = match (self.context, input.ingress_ifindex) {
            (ProgContext::Tc, 0) => sys::if_nametoindex("lo").unwrap_or(1),
            (_, i) => i,
        };
        let ctx = (ingress_ifindex != 0).then(|| {
            let words: Vec<u32> = match self.context {
                // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index,
                // egress_ifindex; the kernel wants data 0 and data_end the packet length.
                ProgContext::Xdp => vec![
                    0,
                    input.packet.len() as u32,
                    0,
                    ingress_ifindex,
                    input.rx_queue_index,
                    0,
                ],
                // struct __sk_buff up to `ifindex` (the kernel zero-fills the rest): every
                // field before must be 0 but `mark` and `priority`; `ingress_ifindex` (word 9)
                // and `ifindex` (word 10, the skb's device) put the packet at that
                // interface's ingress.
                ProgContext::Tc => {
                    let mut w = vec![0; 11];
                    w[9] = ingress_ifindex;
                    w[10] = ingress_ifindex;
                    w
                }
            };
            words
                .iter()
                .flat_map(|w| w.to_ne_bytes())
                .collect::<Vec<u8>>()
        });
        let live = input.flags & libbpf_sys::BPF_F_TEST_XDP_LIVE_FRAMES != 0;
        let mut cap = if live { 0 } else { input.packet.len() + 4096 };
        loop {
            let mut out = vec![0u8; cap];
            let raw = sys::prog_test_run(
                self.handle.as_fd(),
                input.packet,
                &mut out,
                ctx.as_deref(),
                input.repeat,
                input.flags,
            )
            .map_err(err)?;
            if !live && raw.data_size_out > cap {
                // The program grew the packet beyond our buffer: run again with room for it.
                cap = raw.data_size_out;
                continue;
            }
            out.truncate(if live { 0 } else { raw.data_size_out });
            return Ok(TestRunResult {
                retval: raw.retval,
                context: self.context,
                data_out: out,
                duration_ns: u64::from(raw.duration_ns),
            });
        }
    }

    /// Attaches the loader to interface `ifindex` at XDP through a BPF link.
    pub fn attach_xdp(&self, ifindex: u32, mode: XdpMode) -> Result<()> {
        let at = Attachment::xdp(ifindex);
        self.check_context(at)?;
        let mut links = self.links.lock().expect("link table lock poisoned");
        self.check_free(&links, at)?;
        let link =
            sys::xdp_link_create(self.handle.as_fd(), ifindex, mode.flags()).map_err(|source| {
                Error::Attach {
                    loader: self.name.clone(),
                    ifindex,
                    mode,
                    source,
                }
            })?;
        self.keep_link(&mut links, at, link)
    }

    /// Attaches the loader to interface `ifindex` at the TC hook `hook` through a tcx link,
    /// placed first or last among the programs other tools attached there (which keep
    /// running: tcx runs every program of the hook in order until one returns a verdict other
    /// than `TC_ACT_UNSPEC`; ours always returns one). The loader must be built for TC.
    pub fn attach_tc(&self, ifindex: u32, hook: Hook, placement: TcPlacement) -> Result<()> {
        let at = Attachment { ifindex, hook };
        let Some(attach_type) = hook.tcx_attach_type() else {
            return Err(Error::NotTcHook { hook });
        };
        self.check_context(at)?;
        let mut links = self.links.lock().expect("link table lock poisoned");
        self.check_free(&links, at)?;
        let link = sys::tcx_link_create(
            self.handle.as_fd(),
            ifindex,
            attach_type,
            placement.link_flags(),
        )
        .map_err(|source| Error::AttachTc {
            loader: self.name.clone(),
            attachment: at,
            placement,
            source,
        })?;
        self.keep_link(&mut links, at, link)
    }

    /// Attaches at `at`: XDP in native mode, or TC with `placement`.
    pub fn attach(&self, at: Attachment, placement: TcPlacement) -> Result<()> {
        match at.hook {
            Hook::Xdp => self.attach_xdp(at.ifindex, XdpMode::Native),
            hook => self.attach_tc(at.ifindex, hook, placement),
        }
    }

    fn check_context(&self, at: Attachment) -> Result<()> {
        if at.hook.context() != self.context {
            return Err(Error::WrongContext {
                loader: self.name.clone(),
                context: self.context,
                hook: at.hook,
            });
        }
        Ok(())
    }

    fn check_free(&self, links: &BTreeMap<Attachment, OwnedFd>, at: Attachment) -> Result<()> {
        if links.contains_key(&at) {
            return Err(Error::AlreadyAttached {
                loader: self.name.clone(),
                ifindex: at.ifindex,
                hook: at.hook,
            });
        }
        Ok(())
    }

    /// Records a new link (pinned first in a pinned instance; on failure `link` is dropped,
    /// which detaches it again).
    fn keep_link(
        &self,
        links: &mut BTreeMap<Attachment, OwnedFd>,
        at: Attachment,
        link: OwnedFd,
    ) -> Result<()> {
        if let Some(dir) = &self.pin_dir {
            pin_link(dir, at, link.as_fd())?;
        }
        links.insert(at, link);
        Ok(())
    }

    /// Attaches the loader to the interface called `name` (in the current network namespace).
    pub fn attach_xdp_by_name(&self, name: &str, mode: XdpMode) -> Result<u32> {
        let ifindex = interface_index(name)?;
        self.attach_xdp(ifindex, mode)?;
        Ok(ifindex)
    }

    /// Detaches the loader from interface `ifindex` at XDP.
    pub fn detach_xdp(&self, ifindex: u32) -> Result<()> {
        self.detach(Attachment::xdp(ifindex))
    }

    /// Detaches the loader from `at`.
    pub fn detach(&self, at: Attachment) -> Result<()> {
        let mut links = self.links.lock().expect("link table lock poisoned");
        if !links.contains_key(&at) {
            return Err(Error::NotAttached {
                loader: self.name.clone(),
                ifindex: at.ifindex,
                hook: at.hook,
            });
        }
        if let Some(dir) = &self.pin_dir {
            unpin_link(dir, at)?;
        }
        // Detached now, not when the last reference goes: the pin's goes only after the
        // kernel frees the unlinked inode. A link already detached (its interface gone) is
        // what was asked.
        let link = links.remove(&at).expect("checked above");
        match sys::link_detach(link.as_fd()) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOLINK) => Ok(()),
            Err(source) => Err(Error::Detach {
                loader: self.name.clone(),
                ifindex: at.ifindex,
                hook: at.hook,
                source,
            }),
        }
    }

    /// [`Loader::take_over`] of the XDP attachment of `ifindex`.
    pub fn take_over_attachment(&self, from: &Loader, ifindex: u32) -> Result<()> {
        self.take_over(from, Attachment::xdp(ifindex))
    }

    /// Makes `at`, where `from` is attached, run this loader instead: one atomic update of the
    /// BPF link (an XDP link, or a tcx link, which keeps its place among the hook's other
    /// programs), so every packet runs either loader and none is lost. The attachment (link
    /// and pin) then belongs to this loader. On error nothing changed.
    ///
    /// Packets that entered `from` before the switch may still be running when this
    /// returns: wait with [`crate::Vm::wait_for_packets_in_flight`] before removing what they
    /// use.
    pub fn take_over(&self, from: &Loader, at: Attachment) -> Result<()> {
        self.check_context(at)?;
        let mut from_links = from.links.lock().expect("link table lock poisoned");
        let mut links = self.links.lock().expect("link table lock poisoned");
        self.check_free(&links, at)?;
        let Some(link) = from_links.get(&at) else {
            return Err(Error::NotAttached {
                loader: from.name.clone(),
                ifindex: at.ifindex,
                hook: at.hook,
            });
        };
        let take_err = |source| Error::TakeOver {
            from: from.name.clone(),
            to: self.name.clone(),
            ifindex: at.ifindex,
            hook: at.hook,
            source,
        };
        sys::link_update(link.as_fd(), self.handle.as_fd(), from.handle.as_fd())
            .map_err(take_err)?;
        crate::crash::point("take_over.updated");
        if let Some(dir) = &self.pin_dir {
            if let Err(e) = pin_link(dir, at, link.as_fd()) {
                // Put the old loader back: the attachment stays where it was.
                sys::link_update(link.as_fd(), from.handle.as_fd(), self.handle.as_fd())
                    .map_err(take_err)?;
                return Err(e);
            }
        }
        crate::crash::point("take_over.pinned");
        if let Some(dir) = &from.pin_dir {
            // The link is pinned under its new owner: a leftover old pin would only keep the
            // link alive longer (until `from` is removed), so failing here is not an error.
            let _ = unpin_link(dir, at);
        }
        let link = from_links.remove(&at).expect("checked above");
        links.insert(at, link);
        Ok(())
    }

    /// [`Loader::reclaim`] of the XDP attachment of `ifindex`.
    pub fn reclaim_attachment(&self, to: &Loader, ifindex: u32) -> Result<()> {
        self.reclaim(to, Attachment::xdp(ifindex))
    }

    /// Undoes a [`Loader::take_over`] of `at` from this loader to `to` that a crash may have
    /// interrupted at any step: the link, pinned under either loader or both, runs this
    /// loader again and is pinned here only. Used when a restart rolls back an operation that
    /// was not committed. Fails if neither loader holds a link for `at`.
    pub fn reclaim(&self, to: &Loader, at: Attachment) -> Result<()> {
        let mut theirs = to.links.lock().expect("link table lock poisoned");
        let mut mine = self.links.lock().expect("link table lock poisoned");
        let Some(link) = mine.get(&at).or_else(|| theirs.get(&at)) else {
            return Err(Error::NotAttached {
                loader: self.name.clone(),
                ifindex: at.ifindex,
                hook: at.hook,
            });
        };
        sys::link_update_any(link.as_fd(), self.handle.as_fd()).map_err(|source| {
            Error::TakeOver {
                from: to.name.clone(),
                to: self.name.clone(),
                ifindex: at.ifindex,
                hook: at.hook,
                source,
            }
        })?;
        if let std::collections::btree_map::Entry::Vacant(slot) = mine.entry(at) {
            let link = theirs.remove(&at).expect("found above");
            if let Some(dir) = &self.pin_dir {
                // On failure the link goes back: the attachment stays with `to`'s pin.
                if let Err(e) = pin_link(dir, at, link.as_fd()) {
                    theirs.insert(at, link);
                    return Err(e);
                }
            }
            slot.insert(link);
        }
        theirs.remove(&at);
        if let Some(dir) = &to.pin_dir {
            unpin_link(dir, at)?;
        }
        Ok(())
    }

    /// Makes every link of this loader run this loader's program again where it runs another
    /// one (a switch a crash interrupted, or tampering); returns the attachments it repaired.
    pub fn repair_links(&self) -> Result<Vec<Attachment>> {
        let links = self.links.lock().expect("link table lock poisoned");
        let mut repaired = Vec::new();
        for (&at, link) in links.iter() {
            let query = |source| Error::QueryLink {
                ifindex: at.ifindex,
                source,
            };
            let running = sys::link_prog_id(link.as_fd()).map_err(query)?;
            if running != self.kernel_id() {
                sys::link_update_any(link.as_fd(), self.handle.as_fd()).map_err(query)?;
                repaired.push(at);
            }
        }
        Ok(repaired)
    }

    /// The loader's attachments, by interface then hook.
    pub fn attachments(&self) -> Vec<Attachment> {
        self.links
            .lock()
            .expect("link table lock poisoned")
            .keys()
            .copied()
            .collect()
    }

    /// The interfaces the loader is attached to at XDP.
    pub fn xdp_attachments(&self) -> Vec<u32> {
        self.attachments()
            .into_iter()
            .filter(|a| a.hook == Hook::Xdp)
            .map(|a| a.ifindex)
            .collect()
    }

    /// Unpins everything of a pinned loader and drops it, which detaches it from every
    /// interface. For a private loader this is the same as dropping it.
    pub fn remove(self) -> Result<()> {
        if let Some(dir) = &self.pin_dir {
            remove_loader_dir(dir)?;
        }
        Ok(())
    }
}

/// Pins `link`, the attachment `at`, under the loader directory `dir`
/// (`links/<Attachment::pin_name>`).
fn pin_link(dir: &std::path::Path, at: Attachment, link: BorrowedFd<'_>) -> Result<()> {
    let links_dir = dir.join("links");
    pin::create_dir(&links_dir)?;
    let path = links_dir.join(at.pin_name());
    sys::obj_pin(link, &path).map_err(|source| Error::Pin {
        op: "pin",
        path,
        source,
    })
}

impl Drop for Loader {
    /// A private loader's attachments end with it, detached here rather than by closing their
    /// links: a link goes only with its last reference, and a child that another thread of the
    /// process forks holds a copy of every descriptor until it execs, so the interface could
    /// still run the loader after the drop returned. A pinned loader's links outlive it.
    fn drop(&mut self) {
        if self.pin_dir.is_some() {
            return;
        }
        let links = self.links.get_mut().unwrap_or_else(|e| e.into_inner());
        for link in links.values() {
            // Nothing to report from a drop; a link already detached (its interface gone)
            // has nothing left to do.
            let _ = sys::link_detach(link.as_fd());
        }
    }
}

/// Removes the pin of the attachment `at` under the loader directory `dir`, if there is one.
fn unpin_link(dir: &std::path::Path, at: Attachment) -> Result<()> {
    let path = dir.join("links").join(at.pin_name());
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Pin {
            op: "unpin",
            path,
            source,
        }),
    }
}

/// The index of the interface called `name` in the current network namespace.
pub fn interface_index(name: &str) -> Result<u32> {
    sys::if_nametoindex(name).map_err(|source| Error::NoSuchInterface {
        name: name.to_owned(),
        source,
    })
}

/// Removes a loader's pin directory, its attachments first: a process killed in the middle
/// then leaves a loader that runs nowhere (and still opens), never attachments whose loader
/// cannot be opened any more.
pub(crate) fn remove_loader_dir(dir: &std::path::Path) -> Result<()> {
    let links = dir.join("links");
    for name in pin::list_dir(&links)? {
        // Detached before the pin goes: removing a pin drops its reference only after an RCU
        // grace period, and the interface must not run the loader once this returns. A pin
        // that cannot be opened or a link already detached (its interface gone) has nothing
        // left to detach; the removal below reports what cannot be removed.
        if let Ok(link) = sys::obj_get(&links.join(&name)) {
            let _ = sys::link_detach(link.as_fd());
        }
    }
    pin::remove_tree(&links)?;
    pin::remove_tree(dir)
}

/// The IDs of the programs attached to `ifindex` at the TC hook `hook` through tcx (ours and
/// other tools'), in the order packets meet them, as the kernel reports them.
pub fn tc_programs(ifindex: u32, hook: Hook) -> Result<Vec<u32>> {
    let Some(attach_type) = hook.tcx_attach_type() else {
        return Err(Error::NotTcHook { hook });
    };
    sys::tcx_query(ifindex, attach_type).map_err(|source| Error::QueryLink { ifindex, source })
}

/// The ID of the XDP program attached to `ifindex` (0 if none), as the kernel reports it.
pub fn attached_xdp_program(ifindex: u32) -> Result<u32> {
    sys::xdp_query_id(ifindex).map_err(|source| Error::QueryXdp { ifindex, source })
}
