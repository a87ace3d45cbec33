"""Remote gymnasium envs: `RemoteEnv`, `RemoteVectorEnv`, the SB3 adapter, spaces and infos on the
wire. Needs the 'gym' extra (gymnasium); the SB3 adapter needs 'rl' too."""
from control.extras import require

require("gym", "gymnasium", what="control.gym (remote gymnasium envs)")
