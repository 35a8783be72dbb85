//! Reading the VM's event ring buffer (`hike_events`).
//!
//! Chains emit events with the `event` helper and programs with `hike_emit()`; both land in
//! the instance's ring buffer as [`Event`] records. An [`EventReader`] drains them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hike_isa::abi::Event;
use libbpf_rs::{RingBuffer, RingBufferBuilder};

use crate::{Error, MapRef, Result};

/// Drains the events of one VM instance. Create it with
/// [`Vm::event_reader`](crate::Vm::event_reader).
pub struct EventReader {
    ring: RingBuffer<'static>,
    queue: Arc<Mutex<VecDeque<Event>>>,
    // Keeps the ring buffer's map open as long as the reader lives.
    _map: MapRef,
}

impl std::fmt::Debug for EventReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventReader")
            .field("map", &self._map.name())
            .finish_non_exhaustive()
    }
}

impl EventReader {
    pub(crate) fn new(map: MapRef) -> Result<EventReader> {
        let queue = Arc::new(Mutex::new(VecDeque::new()));
        let sink = Arc::clone(&queue);
        let mut builder = RingBufferBuilder::new();
        builder
            .add(map.handle(), move |data: &[u8]| {
                // Records shorter than an event are not the VM's: skip them.
                if let Some(ev) = data
                    .get(..std::mem::size_of::<Event>())
                    .and_then(|b| bytemuck::try_pod_read_unaligned::<Event>(b).ok())
                {
                    sink.lock().unwrap_or_else(|e| e.into_inner()).push_back(ev);
                }
                0
            })
            .map_err(|source| Error::Events { source })?;
        let ring = builder.build().map_err(|source| Error::Events { source })?;
        Ok(EventReader {
            ring,
            queue,
            _map: map,
        })
    }

    fn take(&self) -> Vec<Event> {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect()
    }

    /// The events available now, without waiting.
    pub fn drain(&self) -> Result<Vec<Event>> {
        self.ring
            .consume()
            .map_err(|source| Error::Events { source })?;
        Ok(self.take())
    }

    /// Waits up to `timeout` for events, then returns every available one (possibly none).
    pub fn poll(&self, timeout: Duration) -> Result<Vec<Event>> {
        self.ring
            .poll(timeout)
            .map_err(|source| Error::Events { source })?;
        self.ring
            .consume()
            .map_err(|source| Error::Events { source })?;
        Ok(self.take())
    }
}
