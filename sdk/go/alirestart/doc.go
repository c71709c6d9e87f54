// Restarts Alibaba Cloud applications (SAE, EDAS on ECS and Kubernetes, Web+) when their configuration hash changes, and keeps each change order's id as an output.
package alirestart
