#![no_std]
// A library target so the app can declare this crate as a build dependency (aya-template).
