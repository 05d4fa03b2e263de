//! The measures and promises of the desk: segments and their priority,
//! business hours, service-level deadlines, the wait quoted to customers,
//! satisfaction surveys, teams and routing, the leads' reports, and the staffing forecast.

pub mod forecast;
pub mod hours;
pub mod reports;
pub mod segments;
pub mod sla;
pub mod staffing;
pub mod surveys;
pub mod teams;
pub mod waiting;
