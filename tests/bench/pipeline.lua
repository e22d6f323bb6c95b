-- pipeline.lua - wrk script: PIPELINE_DEPTH (default 16) requests for
-- wrk's URL in one write, so the server sees them pipelined; wrk counts
-- every response.  Used by tests/bench/http.sh:
--     wrk -s pipeline.lua http://127.0.0.1:PORT/plaintext

local depth = tonumber(os.getenv("PIPELINE_DEPTH")) or 16
local batch

init = function(args)
    local r = {}
    for i = 1, depth do
        r[i] = wrk.format(nil, nil)
    end
    batch = table.concat(r)
end

request = function()
    return batch
end
