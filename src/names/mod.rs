//! DNS names and name patterns, matched under an explicit dialect.
