//! The counter list and the names of the kernel objects.

use probe_common::{
    names,
    wire::{COUNTER_SLOTS, Counter, PORT_BITMAP_WORDS, port_bit},
};

#[test]
fn counter_list_has_every_variant_once_in_slot_order_and_fits_the_kernel_array() {
    assert_eq!(Counter::ALL.len(), Counter::COUNT);
    const { assert!(Counter::COUNT <= COUNTER_SLOTS) };
    for (slot, counter) in Counter::ALL.iter().enumerate() {
        // In slot order from 0 and without gaps, so each variant is there exactly once (and
        // the enum and ALL come from one list, so none is missing).
        assert_eq!(*counter as usize, slot, "{counter:?}");
    }
}

#[test]
fn counter_keys_and_labels_are_distinct() {
    for text in [Counter::key, Counter::label] {
        let mut texts: Vec<&str> = Counter::ALL.into_iter().map(text).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), Counter::COUNT);
    }
    for counter in Counter::ALL {
        let key = counter.key();
        assert!(
            key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{key}"
        );
    }
}

#[test]
fn names_are_distinct_and_fit_the_kernel_limit() {
    let mut all: Vec<&str> = names::PROGRAMS
        .iter()
        .chain(&names::TC_PROGRAMS)
        .chain(&names::CONTROL_PROGRAMS)
        .chain(&names::MAPS)
        .chain(&names::GLOBALS)
        .copied()
        .collect();
    let count = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), count);
    // The kernel keeps the first 15 bytes of a program's or a map's name (BPF_OBJ_NAME_LEN).
    for name in names::PROGRAMS
        .iter()
        .chain(&names::TC_PROGRAMS)
        .chain(&names::CONTROL_PROGRAMS)
    {
        assert!(name.len() <= 15, "{name}");
    }
    assert!(names::same("CONNS", names::CONNS));
    assert!(!names::same("CONN", names::CONNS));
    assert!(!names::same("CONNX", names::CONNS));
}

#[test]
fn port_bitmap_has_one_bit_per_port() {
    let mut seen = vec![0u64; PORT_BITMAP_WORDS];
    for port in 0..=u16::MAX {
        let (word, bit) = port_bit(port);
        assert_eq!(bit.count_ones(), 1);
        let word = &mut seen[word as usize];
        assert_eq!(*word & bit, 0, "port {port} shares a bit");
        *word |= bit;
    }
    assert!(seen.iter().all(|w| *w == u64::MAX));
}

#[test]
fn ring_buffer_records_are_told_apart_by_size() {
    use probe_common::wire::{ConnEndEvent, ConnKey, Event, ExchangeEvent};
    let key = ConnKey {
        client_port: 40000,
        server_port: 80,
        ..ConnKey::default()
    };
    let end = ConnEndEvent {
        conn_start_ns: 77,
        key,
        _pad: [0; 4],
    };
    // SAFETY: plain old data viewed as its bytes.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            (&raw const end).cast::<u8>(),
            std::mem::size_of::<ConnEndEvent>(),
        )
    };
    match Event::parse(bytes) {
        Some(Event::ConnEnd(e)) => assert_eq!((e.conn_start_ns, e.key), (77, key)),
        other => panic!("{other:?}"),
    }
    let exchange = vec![0u8; std::mem::size_of::<ExchangeEvent>()];
    assert!(matches!(Event::parse(&exchange), Some(Event::Exchange(_))));
    assert!(Event::parse(&exchange[1..]).is_none());
    assert!(Event::parse(&[]).is_none());
}
