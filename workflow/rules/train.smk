# Stage: train (rules are added here)
