// The local status page: one self-contained HTML document (no external
// scripts, fonts or styles: the Content-Security-Policy allows none). Its
// script reads the read-only API routes with the session cookie every 2 s
// and computes traffic rates from the byte counters.
#include "control/server.hpp"

namespace peerup::control {

std::string_view status_page_html() {
  return R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>peer-up status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em} h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd}
th{background:#f4f4f4} .direct{color:#176f2c;font-weight:600} .relayed{color:#a15c00;font-weight:600}
.mono{font-family:ui-monospace,monospace;font-size:12px} #err{color:#b00}
</style></head><body>
<h1>peer-up <span id="self" class="mono"></span></h1>
<div id="summary"></div><div id="err"></div>
<h2>Peers</h2>
<table id="peers"><thead><tr><th>peer</th><th>name</th><th>path</th><th>transport</th><th>RTT</th>
<th>streams</th><th>in</th><th>out</th><th>rate in</th><th>rate out</th><th>address</th></tr></thead><tbody></tbody></table>
<h2>Services</h2>
<table id="services"><thead><tr><th>service</th><th>local address</th><th>enabled</th><th>active</th>
<th>streams</th><th>denied</th><th>failed</th><th>in</th><th>out</th></tr></thead><tbody></tbody></table>
<h2>Recent events</h2>
<table id="events"><thead><tr><th>time</th><th>event</th></tr></thead><tbody></tbody></table>
<script>
"use strict";
const last = new Map();
function fmtBytes(n){const u=["B","KiB","MiB","GiB","TiB"];let i=0;while(n>=1024&&i<u.length-1){n/=1024;i++}return (i?n.toFixed(1):n)+" "+u[i]}
function cell(tr,text,cls){const td=document.createElement("td");td.textContent=text;if(cls)td.className=cls;tr.appendChild(td);return td}
async function get(path){const r=await fetch(path,{credentials:"same-origin",cache:"no-store"});if(!r.ok)throw new Error(path+": HTTP "+r.status);return r.json()}
async function refresh(){
  try{
    const [st,peers,svcs,events]=await Promise.all([get("/v1/status"),get("/v1/peers"),get("/v1/services"),get("/v1/events")]);
    document.getElementById("self").textContent=st.peer_id;
    document.getElementById("summary").textContent=`${peers.length} connections, ${st.authorized_peers} authorized peers, reachability ${st.reachability}`;
    const now=Date.now();
    const pb=document.querySelector("#peers tbody");pb.replaceChildren();
    for(const p of peers){
      const tr=document.createElement("tr");tr.dataset.peer=p.peer;tr.dataset.path=p.path;
      cell(tr,p.peer,"mono peer");cell(tr,p.name||"","name");cell(tr,p.path,"path "+p.path);
      cell(tr,p.transport,"transport");cell(tr,p.rtt_ms==null?"-":p.rtt_ms+" ms","rtt");
      cell(tr,String(p.streams),"streams");cell(tr,fmtBytes(p.bytes_in),"bytes-in");cell(tr,fmtBytes(p.bytes_out),"bytes-out");
      const key=p.peer+"|"+p.addr, prev=last.get(key);let rin="-",rout="-";
      if(prev){const dt=(now-prev.t)/1000;if(dt>0){rin=fmtBytes(Math.max(0,(p.bytes_in-prev.i)/dt))+"/s";rout=fmtBytes(Math.max(0,(p.bytes_out-prev.o)/dt))+"/s"}}
      last.set(key,{t:now,i:p.bytes_in,o:p.bytes_out});
      cell(tr,rin,"rate-in");cell(tr,rout,"rate-out");cell(tr,p.addr,"mono addr");pb.appendChild(tr);
    }
    const sb=document.querySelector("#services tbody");sb.replaceChildren();
    for(const s of svcs){const tr=document.createElement("tr");tr.dataset.service=s.name;
      for(const v of [s.name,s.local_address,s.enabled?"yes":"no",s.active,s.streams,s.denied,s.failed,fmtBytes(s.bytes_in),fmtBytes(s.bytes_out)])cell(tr,String(v));
      sb.appendChild(tr)}
    const eb=document.querySelector("#events tbody");eb.replaceChildren();
    for(const e of events.slice(-50).reverse()){const tr=document.createElement("tr");
      cell(tr,new Date(e.unix*1000).toLocaleTimeString());cell(tr,e.text);eb.appendChild(tr)}
    document.getElementById("err").textContent="";
    document.body.dataset.loaded="1";
  }catch(e){document.getElementById("err").textContent="cannot read the daemon: "+e.message}
}
refresh();setInterval(refresh,2000);
</script></body></html>
)HTML";
}

}  // namespace peerup::control
